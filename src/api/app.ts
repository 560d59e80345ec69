import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from '../logging/logger';
import { errorHandler, notFoundHandler } from './errors';
import { healthRoutes } from './routes/health';

export interface AppDependencies {
  client: Client;
  logger: Logger;
  readinessTimeoutMs: number;
}

/** The Express application, without listening: tests mount it on an ephemeral port. */
export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));
  app.use(healthRoutes(deps.client, deps.readinessTimeoutMs));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
