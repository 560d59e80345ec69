/**
 * The UI proxy (./ui-proxy.ts) on its own: `npm start` runs it on TEMPORAL_UI_PORT in front of the
 * dev server's UI, compose runs it in front of the temporalio/ui container.
 */
import { once } from 'node:events';
import { createLogger } from '../logging/logger';
import { exitOnFailure, onShutdown } from '../process/lifecycle';
import { uiProxyEnv } from './config';
import { createUiProxy } from './ui-proxy';

async function main(): Promise<void> {
  const env = uiProxyEnv(process.env);
  const logger = createLogger({ name: 'ui-proxy', level: env.LOG_LEVEL });
  const app = createUiProxy({ apiUrl: env.UI_PROXY_API_URL.replace(/\/$/, ''), temporalUiUrl: env.UI_PROXY_TEMPORAL_UI_URL.replace(/\/$/, ''), logger });
  const server = app.listen(env.UI_PROXY_PORT);
  await once(server, 'listening');
  logger.info({ port: env.UI_PROXY_PORT, api: env.UI_PROXY_API_URL, temporalUi: env.UI_PROXY_TEMPORAL_UI_URL }, `Web UI (through the gateway) on http://localhost:${env.UI_PROXY_PORT}`);
  onShutdown((reason) => {
    logger.info({ reason }, 'UI proxy shutting down');
    server.close(() => logger.info('UI proxy stopped'));
    // The UI keeps connections alive between polls; nothing in flight is worth waiting for.
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
}

if (require.main === module) exitOnFailure('ui-proxy', main());
