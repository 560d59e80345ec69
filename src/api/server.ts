/** `npm run api`: the merchant API on PORT. */
import { once } from 'node:events';
import { loadEnv } from '../config/env';
import { createLogger } from '../logging/logger';
import { exitOnFailure, onShutdown } from '../process/lifecycle';
import { createLazyClient, temporalAddress } from '../temporal/connection';
import { createApp } from './app';

async function main(): Promise<void> {
  const env = loadEnv();
  const logger = createLogger({ name: 'api', level: env.LOG_LEVEL });
  const client = createLazyClient(env);
  const app = createApp({ client, logger, readinessTimeoutMs: env.READINESS_TIMEOUT_MS });

  const server = app.listen(env.PORT);
  await once(server, 'listening');
  logger.info({ port: env.PORT, temporal: temporalAddress(env) }, `API listening on http://localhost:${env.PORT}`);

  onShutdown((reason) => {
    logger.info({ reason }, 'API shutting down: finishing in-flight requests');
    // close() stops accepting connections and waits for in-flight requests; idle keep-alive
    // connections are closed at once so the wait is only for real work.
    server.close(() => {
      void client.connection.close().finally(() => logger.info('API stopped'));
    });
    server.closeIdleConnections();
  });
}

exitOnFailure('api', main());
