import type { IncomingMessage } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Response } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { OPS_COOKIE, opsCookie } from '../api/routes/ops-session';
import type { Logger } from '../logging/logger';
import { OpsSessionCheck } from './ops-session-check';

/**
 * The operators' front door to the Temporal Web UI: one origin for the UI, the codec endpoint and
 * the ops sign-in (issue 14.1). The UI decodes payloads by calling the codec endpoint from the
 * browser; on another origin that call needs CORS and a cross-site cookie, which the UI only sends
 * after three settings an operator has to find. Served from the UI's own origin, the call is
 * same-origin, the SameSite=Strict session cookie goes with it, and nothing needs setting.
 *
 * - `/ops/*` (sign-in page and session) and `/codec/*` go to the API, which verifies the cookie as
 *   it verifies a bearer token; the proxy itself holds no key and no payload codec.
 * - Everything else is the Temporal UI server's, behind an ops session: a page load without one is
 *   sent to /ops/login (and back afterwards), an API call gets a 401. The UI server then listens on
 *   loopback only (or an internal network in compose), so this is the only way in.
 */
export interface UiProxyOptions {
  /** The gateway API, e.g. http://127.0.0.1:3000. */
  apiUrl: string;
  /** The Temporal UI server this proxy stands in front of, e.g. http://127.0.0.1:8234. */
  temporalUiUrl: string;
  logger: Logger;
  /** How long a verdict on a session cookie is reused (OpsSessionCheck). */
  sessionCacheMs?: number;
  /** The clock that cache reads; Date.now unless a test moves it. */
  clock?: () => number;
}

const toApi = (path: string) => path === '/ops' || path.startsWith('/ops/') || path === '/codec' || path.startsWith('/codec/');

/** A navigation (a page the browser will show), as opposed to the UI's own fetch calls. */
const wantsPage = (req: Request) => (req.method === 'GET' || req.method === 'HEAD') && (req.get('accept') ?? '').includes('text/html');

const errorBody = (type: string, code: string, message: string) => ({ error: { type, code, message } });

export function createUiProxy(options: UiProxyOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  const sessions = new OpsSessionCheck(options.apiUrl, { cacheMs: options.sessionCacheMs, now: options.clock });
  const upstreamFailed = (name: string) => (err: Error, _req: IncomingMessage, res: unknown) => {
    options.logger.warn({ upstream: name, err: err.message }, `UI proxy: ${name} did not answer`);
    const response = res as Response;
    if (typeof response.status !== 'function' || response.headersSent) return;
    response.status(502).json(errorBody('api_error', 'upstream_unavailable', `The ${name} did not answer; retry shortly`));
  };

  app.use(
    createProxyMiddleware<Request, Response>({
      target: options.apiUrl,
      pathFilter: (path) => toApi(path),
      xfwd: true,
      on: { error: upstreamFailed('gateway API') },
    }),
  );

  const requireOpsSession: RequestHandler = async (req, res, next) => {
    const token = opsCookie(req.headers.cookie);
    const verdict = token ? await sessions.check(token) : ({ signedIn: false, status: 401 } as const);
    if (verdict.signedIn) {
      next();
      return;
    }
    if (verdict.status >= 500) {
      res.status(503).json(errorBody('api_error', 'ops_session_unavailable', 'The sign-in cannot be checked right now (the gateway API is unavailable); retry shortly'));
      return;
    }
    if (wantsPage(req)) {
      res.redirect(302, `/ops/login?next=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    res.status(401).json(errorBody('authentication_error', 'ops_session_required', 'Sign in at /ops/login with a token that has the ops scope'));
  };
  app.use(requireOpsSession);

  app.use(
    createProxyMiddleware<Request, Response>({
      target: options.temporalUiUrl,
      xfwd: true,
      on: {
        // The operator's token is for the gateway; the Temporal UI server has no use for it.
        proxyReq: (proxyReq, req) => {
          const others = (req.headers.cookie ?? '').split(';').map((c) => c.trim()).filter((c) => c && !c.startsWith(`${OPS_COOKIE}=`));
          if (others.length) proxyReq.setHeader('cookie', others.join('; '));
          else proxyReq.removeHeader('cookie');
        },
        error: upstreamFailed('Temporal Web UI'),
      },
    }),
  );

  const failed: ErrorRequestHandler = (err: Error, _req, res, _next) => {
    options.logger.error({ err: err.message }, 'UI proxy: request failed');
    if (!res.headersSent) res.status(500).json(errorBody('api_error', 'ui_proxy_error', 'The UI proxy failed on this request; retry shortly'));
  };
  app.use(failed);
  return app;
}
