import { Router, type Request, type RequestHandler } from 'express';
import type { Metrics } from './metrics';

/** The route label of a request that no route answered (404s, body-parser errors before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts and times every HTTP request. Mount it first, before any router, so that it sees every
 * request, including those a router or body parser refuses.
 *
 * The route label is the pattern of the route that answered (`/v1/payments/:id`), never the raw
 * path, which may hold a payment id or, from a careless client, a card number; the query string is
 * never read. A request no route matched is `unmatched`.
 *
 * A request whose client went away before the response ended is counted with status 499
 * (nginx's "client closed request").
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.writableFinished ? res.statusCode : 499;
      metrics.recordHttpRequest(req.method, routeLabel(req), status, seconds);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}

/**
 * The Express route pattern that answered the request, under its router's mount path.
 *
 * `req.baseUrl` is the path the router was mounted at *as matched*: mount routers at fixed paths
 * only (as src/api/app.ts does), never at a path with parameters (`app.use('/v1/:merchant', ...)`),
 * or the parameter's value would become a label.
 */
export function routeLabel(req: Request): string {
  const path: unknown = (req.route as { path?: unknown } | undefined)?.path;
  if (path === undefined) return UNMATCHED_ROUTE;
  const pattern = typeof path === 'string' ? path : Array.isArray(path) ? path.map(String).join('|') : String(path);
  return `${req.baseUrl}${pattern}` || '/';
}

/**
 * GET /metrics as an Express route, for an app whose port is private. The API does not mount it:
 * its public port serves no metrics, they are on its own METRICS_PORT listener (./metrics-server.ts).
 */
export function metricsRoute(metrics: Metrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const text = await metrics.metricsText();
    res.status(200).set('Content-Type', metrics.contentType).set('Cache-Control', 'no-store').send(text);
  });
  return router;
}
