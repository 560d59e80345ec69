import type { z } from 'zod';
import { ApiError } from './errors';
import { issueCode } from './free-text';

/**
 * Validates input at the edge with a zod schema. The first problem becomes a 400 in the API's
 * error shape, naming the offending field; nothing behind the edge ever sees invalid input.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: 'body' | 'query' | 'header' | 'path', prefix = ''): z.output<S> {
  if (where === 'body' && (input === undefined || input === null || typeof input !== 'object' || Array.isArray(input))) {
    throw new ApiError(400, 'invalid_request_error', 'body_not_object', 'The request body must be a JSON object', prefix || 'body');
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  const code =
    issueCode(issue) ??
    (issue.code === 'unrecognized_keys'
      ? 'parameter_unknown'
      : issue.code === 'invalid_type' && /received undefined/.test(issue.message)
        ? 'parameter_missing'
        : 'parameter_invalid');
  const param = issue.code === 'unrecognized_keys' ? [path, issue.keys[0]].filter(Boolean).join('.') : path;
  // Messages name the field and what it must be; they never echo the value (it may be card data).
  const message = issue.code === 'unrecognized_keys' ? `Unknown parameter ${param}` : `${param || where}: ${issue.message}`;
  throw new ApiError(400, 'invalid_request_error', code, message, param || where);
}
