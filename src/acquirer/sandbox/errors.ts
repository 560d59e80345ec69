import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../../logging/logger';

/**
 * The sandbox's error shape, like an acquirer's: `{"error": {"code", "message"}}`, 4xx when the
 * request is refused for good, 503 `acquirer_unavailable` when a retry may succeed.
 *
 * Messages are fixed strings or name only references and amounts: a message built from the
 * request could carry card data into a response or a log line.
 */
export interface SandboxErrorBody {
  error: { code: string; message: string; param?: string };
}

export class SandboxError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }

  toBody(): SandboxErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.param ? { param: this.param } : {}) } };
  }
}

export function unavailableBody(): SandboxErrorBody {
  return { error: { code: 'acquirer_unavailable', message: 'The acquirer is temporarily unavailable; retry with the same Idempotency-Key' } };
}

/** Any run of 12 to 19 digits, as in a card number: masked in anything this service logs. */
export function maskDigitRuns(text: string): string {
  return text.replace(/\d[\d -]{10,22}\d/g, (run) => (run.replace(/\D/g, '').length >= 12 ? '[REDACTED]' : run));
}

export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new SandboxError(404, 'route_not_found', `No route for ${req.method} ${req.path}`));
};

export function sandboxErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (err instanceof SandboxError) {
      res.status(err.httpStatus).json(err.toBody());
      return;
    }
    // body-parser's errors carry the raw body (err.body) and JSON.parse quotes part of it in its
    // message: neither is ever logged or echoed, the body may hold a card number.
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.parse.failed') {
      res.status(400).json(new SandboxError(400, 'invalid_json', 'The request body is not valid JSON').toBody());
      return;
    }
    if (type === 'entity.too.large') {
      res.status(413).json(new SandboxError(413, 'body_too_large', 'The request body is too large').toBody());
      return;
    }
    if (typeof type === 'string') {
      res.status(400).json(new SandboxError(400, 'invalid_request', 'The request body could not be read').toBody());
      return;
    }
    const error = err instanceof Error ? err : new Error(String(err));
    logger.error({ error: error.name, detail: maskDigitRuns(error.message), method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json(new SandboxError(500, 'internal_error', 'The acquirer sandbox failed; it has been logged').toBody());
  };
}
