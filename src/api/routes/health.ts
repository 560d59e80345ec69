import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { checkReadiness } from '../readiness';

/**
 * GET /healthz: the process is up (liveness; never touches Temporal, so a Temporal outage does
 * not make an orchestrator restart healthy API processes).
 * GET /readyz: the whole path works (readiness; see ../readiness.ts).
 */
export function healthRoutes(client: Client, readinessTimeoutMs: number): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const report = await checkReadiness(client, readinessTimeoutMs);
    res
      .status(report.ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: report.ready ? 'ready' : 'unavailable', ...report });
  });
  return router;
}
