import express, { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { requireScope } from '../auth/middleware';
import { ApiError } from '../errors';
import { parseInput } from '../validation';
import { TokenError, type Principal, type TokenVerifier } from '../auth/verify-token';

/**
 * Lets an operator's browser carry an `ops` token to the codec endpoint and the Web UI. Neither the
 * Temporal Web UI's codec calls nor a plain page load can add an Authorization header for us, so the
 * operator signs in once at /ops/login with a token from `npm run token -- --merchant <name> --scope ops`,
 * and the token is kept in a cookie that is verified on every call as a header would be.
 *
 * The cookie is HttpOnly (no script, the UI's included, can read it) and SameSite=Strict: the Web UI
 * is served through the gateway's UI proxy (src/ui-proxy) on the same origin as /codec and this
 * sign-in, so no cross-site request ever needs it. Its path is `/` because the proxy checks it on
 * every page of the UI, not only on /codec.
 */
export const OPS_COOKIE = 'gateway_ops';

const PAGE = (body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gateway operations sign-in</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">${body}</body></html>`;

/**
 * Where to send the browser after signing in: a path on this origin only. `//host` and `/\host`
 * are other origins to a browser, so an attacker's link could otherwise bounce a fresh session
 * to their site (an open redirect).
 */
const nextPath = z
  .string()
  .max(2048)
  .regex(/^\/(?![/\\])[^\s]*$/, 'next must be a path on this site, starting with a single /');

export const signInForm = z.object({
  token: z.string().trim().max(8192),
  next: nextPath.optional(),
});

export const loginQuery = z.object({ next: nextPath.optional() });

/** GET /ops/session takes nothing: anything in its query is refused, not ignored. */
export const sessionQuery = z.strictObject({});

/** Who is signed in (GET /ops/session). */
export const opsSession = z.strictObject({ subject: z.string() });

/**
 * The audience a token must carry (beside the API's own) to open an ops session: an operator's
 * token for the browser is minted for that purpose (`npm run token -- --scope ops` adds it), so
 * a merchant's or a service's token that happens to hold the `ops` scope cannot be turned into a
 * long-lived browser cookie.
 */
export const OPS_AUDIENCE = 'card-gateway-ops';

export interface OpsSessionOptions {
  /** Default OPS_AUDIENCE (JWT_OPS_AUDIENCE, src/api/auth/auth-config.ts). */
  opsAudience?: string;
}

/**
 * The origin the sign-in form was served from, as the browser names it: the scheme Express sees
 * (https behind a TLS-terminating proxy when TRUST_PROXY trusts its X-Forwarded-Proto) and the Host.
 */
function ownOrigin(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? ''}`;
}

export function opsSessionRoutes(verifier: TokenVerifier, authenticate: RequestHandler, options: OpsSessionOptions = {}): Router {
  const opsAudience = options.opsAudience ?? OPS_AUDIENCE;
  const router = Router();
  router.get('/ops/login', (req, res) => {
    const next = parseInput(loginQuery, req.query, 'query').next ?? '';
    // helmet's `no-referrer` makes a browser send `Origin: null` with the form's POST, which the
    // sign-in refuses (login CSRF check below): this page sends its origin, to itself only.
    res.set('Referrer-Policy', 'same-origin');
    res.type('html').send(
      PAGE(`<h1>Operations sign-in</h1>
<p>Paste a token with the <code>ops</code> scope (<code>npm run --silent token -- --merchant &lt;your name&gt; --scope ops</code>).
It lets the Temporal Web UI show payment state decoded through this gateway's codec endpoint.</p>
<form method="post" action="/ops/session"><textarea name="token" rows="6" cols="70" required></textarea><br>
<input type="hidden" name="next" value="${escapeHtml(next)}"><button type="submit">Sign in</button></form>`),
    );
  });
  router.post('/ops/session', express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    // Login CSRF: a page elsewhere must not sign this browser in with a token of its choosing.
    // Browsers send Origin on every form POST; a request without one is not from our form.
    const origin = req.get('origin');
    if (origin !== ownOrigin(req)) {
      throw new ApiError(403, 'authentication_error', 'origin_not_allowed', 'Sign in from the form at /ops/login (the Origin header must be this server\'s own origin)', 'Origin');
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    // An empty hidden field is the form without a destination.
    const { token, next } = parseInput(signInForm, { ...body, next: body.next || undefined }, 'body');
    let principal: Principal;
    try {
      principal = await verifier.verify(token);
    } catch (err) {
      // A TokenError's message is written for the client; anything else (the JWKS unreachable) is not.
      if (err instanceof TokenError) throw new ApiError(401, 'authentication_error', err.code, err.message);
      throw new ApiError(503, 'api_error', 'auth_unavailable', 'Tokens cannot be verified right now; retry shortly');
    }
    if (!principal.scopes.has('ops')) throw new ApiError(403, 'authentication_error', 'insufficient_scope', 'The token needs the ops scope');
    // The signature was verified above: the payload can be read as it is.
    const { exp, aud } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number; aud: string | string[] };
    if (!(Array.isArray(aud) ? aud : [aud]).includes(opsAudience)) {
      throw new ApiError(403, 'authentication_error', 'token_audience_not_ops', `An ops session needs a token issued for the ${opsAudience} audience (npm run token -- --scope ops)`);
    }
    res.cookie(OPS_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      maxAge: Math.max(0, exp * 1000 - Date.now()),
      // https to this process, or to a proxy TRUST_PROXY trusts (X-Forwarded-Proto: https): never sent over plain http.
      secure: req.secure,
    });
    if (next) {
      // Back to the page that sent the operator here (the UI proxy's redirect); 303: GET it.
      res.redirect(303, next);
      return;
    }
    res.type('html').send(
      PAGE(`<h1>Signed in as ${escapeHtml(principal.subject)}</h1>
<p>Open the Temporal Web UI through the gateway (<code>npm start</code>: <a href="http://localhost:8233">http://localhost:8233</a>); payloads show decoded.</p>`),
    );
  });
  // The UI proxy asks here whether a browser's cookie is a live ops session (it holds no key to check it itself).
  router.get('/ops/session', opsCookieAsBearer, authenticate, requireScope('ops'), (req, res) => {
    parseInput(sessionQuery, req.query, 'query');
    const principal = res.locals.principal as Principal;
    res.json(opsSession.parse({ subject: principal.subject }));
  });
  return router;
}

/** The ops cookie's value in a Cookie header, if any. */
export function opsCookie(header: string | undefined): string | undefined {
  const cookie = (header ?? '').split(';').map((c) => c.trim()).find((c) => c.startsWith(`${OPS_COOKIE}=`));
  return cookie ? decodeURIComponent(cookie.slice(OPS_COOKIE.length + 1)) : undefined;
}

/** For /codec and /ops/session: a browser's ops cookie stands in for the Authorization header. */
export const opsCookieAsBearer: RequestHandler = (req, _res, next) => {
  if (!req.headers.authorization) {
    const token = opsCookie(req.headers.cookie);
    if (token) req.headers.authorization = `Bearer ${token}`;
  }
  next();
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
