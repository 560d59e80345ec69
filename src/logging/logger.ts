import pino, { type Logger } from 'pino';
import { maskPansDeep } from './pan-mask';

export type { Logger };

/**
 * Card fields are removed from every log line wherever they appear in the logged object
 * (DESIGN.md §3, invariant 2). The values are censored, not the keys, so a line still shows
 * that a card was present.
 */
const CARD_FIELDS = ['number', 'pan', 'cvc', 'cvv', 'card_number', 'cardNumber'];
const REDACT_PATHS = CARD_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `card.${f}`, `req.body.card.${f}`]);

/**
 * `mixin` adds fields to every line (e.g. the Lambda front door's request id, from the invocation
 * that is running: src/api/lambda/invocation.ts).
 */
export function createLogger(options: { name: string; level: string; mixin?: () => object }, destination?: pino.DestinationStream): Logger {
  return pino({
    name: options.name,
    level: options.level,
    ...(options.mixin ? { mixin: options.mixin } : {}),
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    // Every argument of every log call (objects, errors, the message) goes through the PAN mask.
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((arg) => maskPansDeep(arg)) as Parameters<typeof method>);
      },
    },
    base: { service: options.name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  }, destination);
}
