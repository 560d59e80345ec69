import express, { Router, type RequestHandler } from 'express';
import { ApiError } from '../errors';
import type { TokenVerifier } from '../auth/verify-token';

/**
 * Lets an operator's browser carry an `ops` token to the codec endpoint. The Temporal Web UI calls
 * /codec from the browser and cannot add an Authorization header for us; with "Include cross-origin
 * credentials" enabled in its Codec Server settings it sends cookies instead. The operator signs in
 * once at /ops/login with a token from `npm run token -- --merchant <name> --scope ops`; the token
 * is kept in an HttpOnly cookie scoped to /codec, and verified on every call like a header would be.
 */
export const OPS_COOKIE = 'gateway_ops';

const PAGE = (body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gateway operations sign-in</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">${body}</body></html>`;

export function opsSessionRoutes(verifier: TokenVerifier): Router {
  const router = Router();
  router.get('/ops/login', (_req, res) => {
    res.type('html').send(
      PAGE(`<h1>Operations sign-in</h1>
<p>Paste a token with the <code>ops</code> scope (<code>npm run --silent token -- --merchant &lt;your name&gt; --scope ops</code>).
It lets the Temporal Web UI decode payment state through this API's codec endpoint.</p>
<form method="post" action="/ops/session"><textarea name="token" rows="6" cols="70" required></textarea><br><button type="submit">Sign in</button></form>`),
    );
  });
  router.post('/ops/session', express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    let principal;
    try {
      principal = await verifier.verify(token);
    } catch (err) {
      throw new ApiError(401, 'authentication_error', (err as { code?: string }).code ?? 'token_invalid', (err as Error).message);
    }
    if (!principal.scopes.has('ops')) throw new ApiError(403, 'authentication_error', 'insufficient_scope', 'The token needs the ops scope');
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };
    res.cookie(OPS_COOKIE, token, {
      httpOnly: true,
      sameSite: 'lax', // the Web UI (another port of the same host) is same-site
      path: '/codec',
      maxAge: Math.max(0, exp * 1000 - Date.now()),
      secure: req.secure,
    });
    res.type('html').send(
      PAGE(`<h1>Signed in as ${escapeHtml(principal.subject)}</h1>
<p>In the Temporal Web UI, open the Codec Server settings and enable <b>Include cross-origin credentials</b>; payloads then show decoded.</p>`),
    );
  });
  return router;
}

/** For /codec: a browser's ops cookie stands in for the Authorization header. */
export const opsCookieAsBearer: RequestHandler = (req, _res, next) => {
  if (!req.headers.authorization) {
    const cookie = (req.headers.cookie ?? '').split(';').map((c) => c.trim()).find((c) => c.startsWith(`${OPS_COOKIE}=`));
    if (cookie) req.headers.authorization = `Bearer ${decodeURIComponent(cookie.slice(OPS_COOKIE.length + 1))}`;
  }
  next();
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
