import type { Request, RequestHandler, Response } from 'express';
import { ApiError } from '../errors';
import { LOOKS_LIKE_API_KEY } from './api-keys';
import { KeySourceUnavailableError, TokenError, type Principal, type Scope, type TokenErrorCode, type TokenVerifier } from './verify-token';

/** Why a request was not authenticated: a stable code and a message. Never the token. */
export interface AuthFailure {
  code: TokenErrorCode;
  message: string;
}

export interface AuthenticateOptions {
  /**
   * Called (and awaited) before the 401 is sent, e.g. to write the audit log. Its own errors
   * are swallowed: the client still gets its 401, so the callback must report them itself.
   */
  onFailure?: (reason: AuthFailure, req: Request) => void | Promise<void>;
  /** Merchants' API keys (`sk_test_…`, `rk_test_…`, ./api-keys.ts), accepted beside JWTs. */
  apiKeys?: { verify(key: string): Promise<Principal | undefined> };
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

function quoted(text: string): string {
  return text.replace(/["\\]/g, '');
}

/**
 * Requires `Authorization: Bearer <jwt>` (or a merchant's API key) on every request it guards (DESIGN.md §3, invariant 6).
 * On success `res.locals.principal` holds the caller; on failure the request goes to the error
 * handler as a 401 `authentication_error` with a stable code (token_expired, ...) and an RFC 6750
 * `WWW-Authenticate` header. If the JWKS cannot be fetched it is a 503 instead: not the client's fault.
 */
export function authenticate(verifier: TokenVerifier, options: AuthenticateOptions = {}): RequestHandler {
  /** The principal, or why there is none. Other errors (JWKS down, bugs) propagate. */
  const identify = async (header: string | undefined): Promise<Principal | AuthFailure> => {
    if (header === undefined) return { code: 'token_missing', message: 'Authenticate with an Authorization: Bearer <token> header' };
    const match = BEARER.exec(header);
    if (!match) return { code: 'token_missing', message: 'The Authorization header must be "Bearer <token>"' };
    if (LOOKS_LIKE_API_KEY.test(match[1]!)) {
      const principal = options.apiKeys ? await options.apiKeys.verify(match[1]!) : undefined;
      // Never the key in the message: a client may log what it is told.
      return principal ?? { code: 'api_key_invalid', message: 'Invalid API key provided (unknown, malformed or revoked)' };
    }
    try {
      return await verifier.verify(match[1]!);
    } catch (err) {
      if (err instanceof TokenError) return { code: err.code, message: err.message };
      if (err instanceof KeySourceUnavailableError) {
        throw new ApiError(503, 'api_error', 'auth_unavailable', 'Tokens cannot be verified right now (the signing keys are unavailable); retry shortly');
      }
      throw err;
    }
  };

  return async (req, res, next) => {
    const header = req.get('authorization');
    let outcome: Principal | AuthFailure;
    try {
      outcome = await identify(header);
    } catch (err) {
      next(err);
      return;
    }
    if ('subject' in outcome) {
      res.locals.principal = outcome;
      next();
      return;
    }

    if (options.onFailure) {
      try {
        await options.onFailure(outcome, req);
      } catch {
        // See AuthenticateOptions.onFailure: the 401 is the answer regardless.
      }
    }
    // RFC 6750 §3.1: a request with no credentials at all gets a challenge without an error code.
    res.set(
      'WWW-Authenticate',
      header === undefined ? 'Bearer' : `Bearer error="invalid_token", error_description="${quoted(outcome.message)}"`,
    );
    next(new ApiError(401, 'authentication_error', outcome.code, outcome.message));
  };
}

/** The authenticated caller. Throws (a 500: a wiring bug) if `authenticate` did not run first. */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error('No authenticated principal: mount authenticate() before this handler');
  return principal;
}

/** Requires every one of `scopes`; otherwise 403 `insufficient_scope` naming the missing ones. */
export function requireScope(...scopes: Scope[]): RequestHandler {
  return (_req, res, next) => {
    const principal = principalOf(res);
    const missing = scopes.filter((s) => !principal.scopes.has(s));
    if (missing.length === 0) {
      next();
      return;
    }
    res.set('WWW-Authenticate', `Bearer error="insufficient_scope", scope="${scopes.join(' ')}"`);
    next(
      new ApiError(
        403,
        'authentication_error',
        'insufficient_scope',
        `This request needs the ${missing.join(', ')} scope${missing.length > 1 ? 's' : ''}, which the token does not grant`,
      ),
    );
  };
}
