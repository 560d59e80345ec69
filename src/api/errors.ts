import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../logging/logger';
import { VaultUnavailableError } from '../vault/vault-public-keys';
import { withoutInternalAddresses } from './public-message';

/**
 * The one error shape of the API, in the spirit of Stripe's:
 * `{"error": {"type", "code", "message", "param"}}`. Never a stack trace.
 */
export type ErrorType = 'invalid_request_error' | 'card_error' | 'authentication_error' | 'not_found_error' | 'conflict_error' | 'api_error';

export interface ErrorBody {
  error: { type: ErrorType; code: string; message: string; param?: string };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    return { error: { type: this.type, code: this.code, message: this.message, ...(this.param ? { param: this.param } : {}) } };
  }
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found_error', 'route_not_found', `No route for ${req.method} ${req.path}`));
};

/**
 * Errors raised before our code runs that are the client's fault: body-parser's (they carry a
 * `type`, or just a 4xx `status`, e.g. a body that claims gzip and is not), and the router's
 * URIError for a path that is not valid percent-encoding.
 */
function fromBodyParser(err: { type?: string; status?: number; message: string }): ApiError | undefined {
  if (err instanceof URIError) return new ApiError(400, 'invalid_request_error', 'invalid_path', 'The request path is not valid percent-encoding');
  switch (err.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'invalid_request_error', 'invalid_json', 'The request body is not valid JSON');
    case 'entity.too.large':
      return new ApiError(413, 'invalid_request_error', 'body_too_large', 'The request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'invalid_request_error', 'unsupported_encoding', err.message);
    default:
      if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
        return new ApiError(err.status, 'invalid_request_error', 'unreadable_body', 'The request body could not be read (check Content-Encoding and Content-Length)');
      }
      return undefined;
  }
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known =
      err instanceof ApiError
        ? err
        : err instanceof VaultUnavailableError
          ? new ApiError(503, 'api_error', 'vault_unavailable', 'The card vault cannot take cards right now; retry shortly')
          : fromBodyParser(err as { type?: string; message: string });
    const apiError = known ?? new ApiError(500, 'api_error', 'internal_error', 'Something went wrong on our side; it has been logged');
    // req.log carries the request id (./middleware/request-logging.ts); the process logger is the fallback.
    if (!known) ((req as { log?: Logger }).log ?? logger).error({ err, method: req.method, path: req.path }, 'unhandled error');
    if (apiError.status === 429) res.set('Retry-After', '60');
    const body = apiError.toBody();
    // The message may pass a library's on (./public-message.ts): the client never reads an internal address.
    body.error.message = withoutInternalAddresses(body.error.message);
    res.status(apiError.status).json(body);
  };
}
