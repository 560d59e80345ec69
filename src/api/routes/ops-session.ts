import express, { Router, type Request, type RequestHandler } from 'express';
import { ApiError } from '../errors';
import { TokenError, type TokenVerifier } from '../auth/verify-token';

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

export function opsSessionRoutes(verifier: TokenVerifier, options: OpsSessionOptions = {}): Router {
  const opsAudience = options.opsAudience ?? OPS_AUDIENCE;
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
    // Login CSRF: a page elsewhere must not sign this browser in with a token of its choosing.
    // Browsers send Origin on every form POST; a request without one is not from our form.
    const origin = req.get('origin');
    if (origin !== ownOrigin(req)) {
      throw new ApiError(403, 'authentication_error', 'origin_not_allowed', 'Sign in from the form at /ops/login (the Origin header must be this server\'s own origin)', 'Origin');
    }
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    let principal;
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
      sameSite: 'lax', // the Web UI (another port of the same host) is same-site
      path: '/codec',
      maxAge: Math.max(0, exp * 1000 - Date.now()),
      // https to this process, or to a proxy TRUST_PROXY trusts (X-Forwarded-Proto: https): never sent over plain http.
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
