/** `npm run api`: the merchant API on PORT. */
import { once } from 'node:events';
import { loadEnv } from '../config/env';
import { createLogger } from '../logging/logger';
import { exitOnFailure, onShutdown } from '../process/lifecycle';
import { createLazyClient, temporalAddress } from '../temporal/connection';
import { gatewayDataConverter } from '../temporal/data-converter';
import { EncryptionCodec } from '../temporal/payload-codec';
import { openKeyProvider } from '../vault/keys/open-key-provider';
import { createApp } from './app';

async function main(): Promise<void> {
  const env = loadEnv();
  const logger = createLogger({ name: 'api', level: env.LOG_LEVEL });
  const keys = await openKeyProvider(env);
  const client = createLazyClient(env, gatewayDataConverter(keys));
  const app = createApp({
    client,
    logger,
    readinessTimeoutMs: env.READINESS_TIMEOUT_MS,
    codec: new EncryptionCodec(keys),
    codecAllowedOrigins: env.CODEC_CORS_ORIGINS ?? [`http://localhost:${env.TEMPORAL_UI_PORT}`, `http://127.0.0.1:${env.TEMPORAL_UI_PORT}`],
  });

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
