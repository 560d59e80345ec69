import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { AuthConfig } from './auth-config';

export const SCOPES = ['payments:write', 'payments:read', 'refunds:write', 'ops'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling: a merchant (its id is the token's `sub`), or an operator when the token carries `ops`. */
export interface Principal {
  subject: string;
  scopes: Set<Scope>;
  kind: 'merchant' | 'operator';
}

export const SUBJECT_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export type TokenErrorCode =
  | 'token_missing'
  | 'token_malformed'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_invalid_issuer'
  | 'token_invalid_audience'
  | 'token_invalid_signature'
  | 'token_algorithm_not_allowed'
  | 'token_invalid_subject'
  | 'token_invalid'
  /** An `sk_…`/`rk_…` API key that is unknown, malformed or revoked (./api-keys.ts). */
  | 'api_key_invalid';

/** The token was refused: the client's fault (401). The message never contains the token. */
export class TokenError extends Error {
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

/** Keys could not be obtained (the JWKS URL is down or answers garbage): our fault, not the client's (503). */
export class KeySourceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeySourceUnavailableError';
  }
}

export interface TokenVerifier {
  /** Resolves with the principal, or rejects with TokenError (or KeySourceUnavailableError). */
  verify(token: string): Promise<Principal>;
}

/** Tokens larger than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** `scope` as an OAuth space-separated string (or an array); unknown scopes are ignored. */
function scopesOf(payload: JWTPayload): Set<Scope> {
  const raw = payload.scope ?? payload.scp;
  const list = typeof raw === 'string' ? raw.split(/\s+/) : Array.isArray(raw) ? raw.filter((s): s is string => typeof s === 'string') : [];
  return new Set(list.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)));
}

function fromJoseError(err: unknown, remote: boolean): Error {
  if (err instanceof errors.JWTExpired) return new TokenError('token_expired', 'The token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
        return err.reason === 'check_failed'
          ? new TokenError('token_not_yet_valid', 'The token is not valid yet (nbf is in the future)')
          : new TokenError('token_malformed', 'The token has an invalid nbf claim');
      case 'iss':
        return new TokenError('token_invalid_issuer', 'The token was not issued by the expected issuer');
      case 'aud':
        return new TokenError('token_invalid_audience', 'The token is not meant for this API (audience)');
      case 'sub':
        return new TokenError('token_invalid_subject', 'The token has no valid subject');
      case 'exp':
        return err.reason === 'missing'
          ? new TokenError('token_invalid', 'The token has no expiry (exp claim)')
          : new TokenError('token_malformed', 'The token has an invalid exp claim');
      default:
        return new TokenError('token_invalid', `The token failed the ${err.claim} claim check`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenError('token_algorithm_not_allowed', 'The token is signed with an algorithm this API does not accept');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenError('token_invalid_signature', 'The token signature is invalid');
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenError('token_invalid_signature', 'The token is not signed by a known key');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new TokenError('token_malformed', 'The token is not a well-formed JWT');
  if (remote && (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError) || err.code === 'ERR_JOSE_GENERIC')) {
    return new KeySourceUnavailableError(`The JWKS could not be fetched: ${(err as Error).message}`);
  }
  return new TokenError('token_invalid', 'The token could not be verified');
}

export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  const allowed = new Set<string>(config.algorithms);
  let key: Uint8Array | JWTVerifyGetKey;
  switch (config.key.kind) {
    case 'secret':
      key = config.key.secret;
      break;
    case 'jwks-file':
      key = createLocalJWKSet(config.key.jwks);
      break;
    case 'jwks-url':
      key = createRemoteJWKSet(config.key.url, { timeoutDuration: 5_000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
      break;
  }
  const remote = config.key.kind === 'jwks-url';
  const options: JWTVerifyOptions = {
    algorithms: [...config.algorithms],
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockSkewSeconds,
    requiredClaims: ['exp', 'iss', 'aud', 'sub'],
  };

  return {
    async verify(token: string): Promise<Principal> {
      if (!token) throw new TokenError('token_missing', 'No bearer token was presented');
      if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
        throw new TokenError('token_malformed', 'The token is not a well-formed JWT (expected header.payload.signature)');
      }
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw new TokenError('token_malformed', 'The token header is not valid base64url JSON');
      }
      // Checked here as well as by jose, so `alg: none` and a foreign algorithm (algorithm
      // confusion: HS256 against a public key) are refused before any key is looked at.
      if (typeof alg !== 'string' || !allowed.has(alg)) {
        throw new TokenError(
          'token_algorithm_not_allowed',
          `The token algorithm ${typeof alg === 'string' ? `"${alg.slice(0, 16)}"` : '(missing)'} is not accepted; allowed: ${config.algorithms.join(', ')}`,
        );
      }

      let payload: JWTPayload;
      try {
        const verified = typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
        payload = verified.payload;
      } catch (err) {
        throw fromJoseError(err, remote);
      }

      const subject = payload.sub;
      if (typeof subject !== 'string' || !SUBJECT_PATTERN.test(subject)) {
        throw new TokenError('token_invalid_subject', 'The token subject must be 1-64 letters, digits, "_" or "-"');
      }
      const scopes = scopesOf(payload);
      return { subject, scopes, kind: scopes.has('ops') ? 'operator' : 'merchant' };
    },
  };
}
