/** `npm run api`: the merchant API on PORT; with API_PROCESSES > 1, that many processes sharing it (./api-cluster.ts). */
import cluster from 'node:cluster';
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import { loadEnv } from '../config/env';
import { createLogger } from '../logging/logger';
import { exitOnFailure, onShutdown } from '../process/lifecycle';
import { createLazyClient, temporalAddress } from '../temporal/connection';
import { gatewayDataConverter } from '../temporal/data-converter';
import { startMetricsServer, type MetricsServer } from '../observability/metrics-server';
import { runApiCluster } from './api-cluster';
import { composeApi } from './compose-api';

async function main(): Promise<void> {
  const env = loadEnv();
  const logger = createLogger({ name: 'api', level: env.LOG_LEVEL });
  if (env.API_PROCESSES > 1 && cluster.isPrimary) {
    await runApiCluster(env, logger);
    // The primary holds nothing to drain once its processes have stopped.
    process.exit(0);
  }
  const { app, client, db, metrics, authFailures } = await composeApi({ env, logger, client: (keys) => createLazyClient(env, gatewayDataConverter(keys)) });

  // Prometheus scrapes its own listener (METRICS_PORT, on METRICS_HOST): the public API port serves no /metrics.
  let metricsServer: MetricsServer | undefined;
  if (env.METRICS_PORT !== undefined) {
    metricsServer = await startMetricsServer(metrics, env.METRICS_PORT, { host: env.METRICS_HOST });
    logger.info({ port: metricsServer.port, host: env.METRICS_HOST ?? 'all interfaces' }, `API metrics on :${metricsServer.port}/metrics`);
  }

  // HTTPS when a certificate and key are configured; graceful shutdown is the same either way.
  const server =
    env.API_TLS_CERT && env.API_TLS_KEY
      ? https.createServer({ cert: fs.readFileSync(env.API_TLS_CERT), key: fs.readFileSync(env.API_TLS_KEY) }, app).listen(env.PORT)
      : app.listen(env.PORT);
  await once(server, 'listening');
  const scheme = env.API_TLS_CERT && env.API_TLS_KEY ? 'https' : 'http';
  logger.info({ port: env.PORT, temporal: temporalAddress(env) }, `API listening on ${scheme}://localhost:${env.PORT}`);

  onShutdown((reason) => {
    logger.info({ reason }, 'API shutting down: finishing in-flight requests');
    // close() stops accepting connections and waits for in-flight requests; idle keep-alive
    // connections are closed at once so the wait is only for real work.
    server.close(() => {
      void Promise.allSettled([client.connection.close(), metricsServer?.close(), authFailures.close()])
        .then(() => db.close())
        .finally(() => {
          logger.info('API stopped');
          // One of a cluster's processes: its channel to the primary would keep it alive.
          if (cluster.isWorker) cluster.worker!.disconnect();
        });
    });
    server.closeIdleConnections();
  });
}

exitOnFailure('api', main());
