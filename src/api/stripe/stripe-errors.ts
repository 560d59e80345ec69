import type { ErrorRequestHandler } from 'express';
import type { z } from 'zod';
import type { Logger } from '../../logging/logger';
import { ApiError } from '../errors';
import { issueCode } from '../free-text';
import { withoutInternalAddresses } from '../public-message';

/**
 * Errors as Stripe's API gives them (docs/stripe-compat.md), so the official client raises the
 * class a merchant's code catches: `{"error": {type, code, decline_code, message, param,
 * payment_intent}}`, 402 `card_error` for a decline, 400 `invalid_request_error` for a request the
 * object's state refuses, 404 `resource_missing`, 400/409 `idempotency_error`.
 */
export type StripeErrorType = 'invalid_request_error' | 'card_error' | 'api_error' | 'authentication_error' | 'idempotency_error' | 'rate_limit_error';

export class StripeError extends Error {
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    readonly code: string | undefined,
    message: string,
    readonly extra: { param?: string; decline_code?: string; payment_intent?: unknown; payment_method?: unknown } = {},
  ) {
    super(message);
    this.name = 'StripeError';
  }

  toBody() {
    return { error: { type: this.type, ...(this.code ? { code: this.code } : {}), message: this.message, ...this.extra } };
  }
}

/** The gateway's own errors, said as Stripe says them. */
export function toStripeError(err: ApiError): StripeError {
  const extra = err.param ? { param: toStripeParam(err.param) } : {};
  switch (err.type) {
    case 'not_found_error':
      return new StripeError(404, 'invalid_request_error', 'resource_missing', err.message, extra);
    case 'conflict_error':
      // A request the object's state refuses: Stripe answers 400 and names the state problem.
      if (err.code === 'idempotency_key_reused') return new StripeError(400, 'idempotency_error', undefined, err.message);
      return new StripeError(400, 'invalid_request_error', err.code === 'amount_exceeds_refundable' ? 'amount_too_large' : 'payment_intent_unexpected_state', err.message, extra);
    case 'card_error':
      return new StripeError(402, 'card_error', err.code, err.message, extra);
    case 'authentication_error':
      return new StripeError(err.status, err.status === 403 ? 'invalid_request_error' : 'authentication_error', err.code, err.message, extra);
    case 'api_error':
      return new StripeError(err.status, 'api_error', err.code, err.message, extra);
    default:
      if (err.status === 429) return new StripeError(429, 'rate_limit_error', 'rate_limit', err.message);
      return new StripeError(err.status, 'invalid_request_error', err.code, err.message, extra);
  }
}

/** `card.number` (the gateway's dotted path) is `card[number]` in Stripe's form notation. */
export function toStripeParam(param: string): string {
  const [head, ...rest] = param.split('.');
  return head + rest.map((p) => `[${p}]`).join('');
}

/** Validates form parameters; the first problem is a 400 naming the parameter in Stripe's notation. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const base = issue.path.map(String);
  const path = issue.code === 'unrecognized_keys' ? [...base, issue.keys[0]!] : base;
  const param = path.length ? path[0] + path.slice(1).map((p) => `[${p}]`).join('') : undefined;
  // Missing is told by the input itself: a union's issue (numbers sent as text) does not say "undefined".
  const valueAt = base.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), input ?? {});
  const missing = issue.code !== 'unrecognized_keys' && base.length > 0 && valueAt === undefined;
  const code = issueCode(issue) ?? (issue.code === 'unrecognized_keys' ? 'parameter_unknown' : missing ? 'parameter_missing' : 'parameter_invalid');
  // Never the value: it may be card data.
  const message = issue.code === 'unrecognized_keys' ? `Received unknown parameter: ${param}` : missing ? `Missing required param: ${param}.` : `Invalid ${param ?? 'request'}: ${issue.message}`;
  throw new StripeError(400, 'invalid_request_error', code, message, param ? { param } : {});
}

/** The Stripe routes' error handler: every failure in Stripe's shape, never a stack trace. */
export function stripeErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    // Mounted at the root: errors of other routes (and of authentication elsewhere) pass through untouched.
    if (!res.locals.stripe) {
      next(err);
      return;
    }
    let stripe: StripeError;
    if (err instanceof StripeError) stripe = err;
    else if (err instanceof ApiError) stripe = toStripeError(err);
    else if (typeof (err as { status?: number }).status === 'number' && (err as { status: number }).status < 500) {
      // body-parser (malformed form, too large): the gateway's handler knows these.
      next(err);
      return;
    } else {
      ((req as { log?: Logger }).log ?? logger).error({ err, method: req.method, path: req.path }, 'unhandled error');
      stripe = new StripeError(500, 'api_error', undefined, 'Something went wrong on our side; it has been logged');
    }
    // Stripe's client retries a 409 and what this header tells it to; a 503 here is always safe to retry.
    if (stripe.status === 503 || stripe.status === 409) res.set('Stripe-Should-Retry', 'true');
    if (stripe.status === 429) res.set('Retry-After', '60');
    const body = stripe.toBody();
    body.error.message = withoutInternalAddresses(body.error.message);
    res.status(stripe.status).json(body);
  };
}
