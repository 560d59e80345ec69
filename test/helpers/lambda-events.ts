import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/**
 * What the Lambda runtime hands the API's handler: an API Gateway HTTP API (payload 2.0) event and
 * a context with a deadline. Used by the in-process test and by `npm run bench:lambda`.
 */
export interface LambdaResult {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
}

/** A context whose getRemainingTimeInMillis() counts down from `remainingMs`, as Lambda's does. */
export function lambdaContext(remainingMs = 30_000): Context {
  const end = Date.now() + remainingMs;
  return { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => end - Date.now(), functionName: 'api', callbackWaitsForEmptyEventLoop: true } as unknown as Context;
}

export function httpApiEvent(
  method: string,
  rawPath: string,
  options: { query?: string; headers?: Record<string, string>; body?: unknown; base64?: boolean; cookies?: string[] } = {},
) {
  const text = options.body === undefined ? undefined : JSON.stringify(options.body);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: options.query ?? '',
    ...(options.cookies ? { cookies: options.cookies } : {}),
    headers: { host: 'api.example.test', ...(text !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    requestContext: { http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'lambda-test' }, requestId: randomUUID(), routeKey: '$default', stage: '$default', timeEpoch: Date.now() },
    ...(text !== undefined ? { body: options.base64 ? Buffer.from(text).toString('base64') : text, isBase64Encoded: Boolean(options.base64) } : { isBase64Encoded: false }),
  };
}

/** The JSON body of a handler's answer, base64 or not. */
export function resultJson(result: LambdaResult): any { // eslint-disable-line @typescript-eslint/no-explicit-any -- bodies are checked field by field
  return JSON.parse(result.isBase64Encoded ? Buffer.from(result.body, 'base64').toString() : result.body);
}
