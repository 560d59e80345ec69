import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Response } from 'express';
import { ApiError } from '../errors';

/**
 * Bodies are JSON or nothing: anything else is a 415 before a parser runs. The Stripe-compatible
 * paths (marked by stripeEdge, src/api/routes/stripe.ts) take Stripe's form encoding as well.
 */
export const jsonOnly: RequestHandler = (req, res, next) => {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is('application/json') && !(res.locals.stripe && req.is('application/x-www-form-urlencoded'))) {
    next(new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'Send the request body as application/json', 'Content-Type'));
    return;
  }
  next();
};

/**
 * Requests per merchant (the token's subject) per minute. Runs after authentication, so one
 * merchant's burst cannot starve the others; the limit answers 429 in the API's error shape with
 * Retry-After.
 */
export function merchantRateLimit(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (_req, res: Response) => (res.locals.principal as { subject: string } | undefined)?.subject ?? 'anonymous',
    handler: (_req, _res, next) => {
      next(new ApiError(429, 'invalid_request_error', 'rate_limited', `More than ${perMinute} requests in a minute; retry after the Retry-After delay`));
    },
  });
}

/**
 * Requests per client address per minute, for every request that reaches it, BEFORE
 * authentication: a flood of bad tokens from one address is refused here, without a token
 * verification, an audit record or a database write per request. The per-merchant limit
 * (`merchantRateLimit`) still applies after authentication. The address is `req.ip`: the socket's
 * peer, or with `TRUST_PROXY` the client the trusted proxies name in X-Forwarded-For (app.ts).
 */
export function clientRateLimit(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => clientKey(req.ip ?? req.socket.remoteAddress ?? 'unknown'),
    handler: (_req, _res, next) => {
      next(new ApiError(429, 'invalid_request_error', 'rate_limited', `More than ${perMinute} requests in a minute from this address; retry after the Retry-After delay`));
    },
  });
}

/**
 * The rate-limit key of a client address: the address itself for IPv4 (IPv4-mapped IPv6 too), its
 * /64 prefix for IPv6, since one subscriber is routinely given a whole /64 and would otherwise
 * have 2^64 addresses to spread a flood over.
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
