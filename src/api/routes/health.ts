import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { checkReadiness } from '../readiness';
import { ReadinessCache } from '../readiness-cache';

/**
 * GET /healthz: the process is up (liveness; never touches Temporal, so a Temporal outage does
 * not make an orchestrator restart healthy API processes).
 * GET /readyz: the whole path works (readiness; see ../readiness.ts), probed at most once at a
 * time and reused for a moment (../readiness-cache.ts), so a flood cannot start workflows.
 */
export function healthRoutes(client: Client, readinessTimeoutMs: number, options: { readinessCacheMs?: number } = {}): Router {
  const router = Router();
  const readiness = new ReadinessCache(() => checkReadiness(client, readinessTimeoutMs), { ttlMs: options.readinessCacheMs });
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const report = await readiness.check();
    res
      .status(report.ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: report.ready ? 'ready' : 'unavailable', ...report });
  });
  return router;
}
