import { createHash } from 'node:crypto';
import { SandboxError } from './errors';
import type { Ledger, LedgerEntry } from './ledger';

/**
 * Idempotency as acquirers (and Stripe) do it: the first final answer to a key is stored and
 * replayed, status and body alike, to every retry of the same request, which moves no money. A
 * transient answer (503) is not stored, so a retry can still succeed. The same key with a
 * different request is refused: it is a caller's bug, not a retry.
 */

export type Operation = 'authorize' | 'capture' | 'void' | 'refund' | 'settle' | 'reverse';

/**
 * The request hash of a reversal's tombstone: the final answer stored under an authorization key
 * that a timeout reversal closed before any authorization arrived. It answers every later request
 * with that key, whatever its body (`authorization_reversed`).
 */
export const REVERSED_KEY_HASH = 'reversed';

export type Answer =
  /** Stored and replayed. `movement` is the ledger row written, if any. */
  | { final: true; httpStatus: number; body: object; movement?: LedgerEntry }
  /** Not stored: the same call may succeed later. */
  | { final: false; httpStatus: 503; body: object };

export type IdempotentAnswer = Answer & { replayed: boolean };

/**
 * A SHA-256 of everything that makes up the request: the operation, the reference in the path and
 * the validated body (card data included, so a retry with another card is caught). Only this hash
 * is stored, never the request.
 */
export function requestHash(operation: Operation, request: Record<string, unknown>): string {
  // The card enters as BIN, last4 and length, the CVC not at all: a stored hash of the full PAN
  // could be used to test guesses of the number (there are only about a million per BIN and last4).
  const { pan, cvc: _cvc, ...rest } = request;
  const card = typeof pan === 'string' ? { card: `${pan.slice(0, 6)}/${pan.slice(-4)}/${pan.length}` } : {};
  const canonical = JSON.stringify([operation, Object.entries({ ...rest, ...card }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function answerIdempotently(
  ledger: Ledger,
  call: { idempotencyKey: string; operation: Operation; requestHash: string },
  execute: () => Answer,
): IdempotentAnswer {
  // One transaction from lookup to stored answer: two concurrent calls with one key cannot both
  // miss the record and both move money.
  return ledger.transaction(() => {
    const stored = ledger.findAnswer(call.idempotencyKey);
    if (stored !== undefined) {
      const tombstone = stored.requestHash === REVERSED_KEY_HASH && stored.operation === call.operation;
      if (!tombstone && (stored.operation !== call.operation || stored.requestHash !== call.requestHash)) {
        throw new SandboxError(
          409,
          'idempotency_key_reused',
          `Idempotency-Key ${call.idempotencyKey} was already used for a different request (${stored.operation}); use a new key for a new request`,
        );
      }
      return { final: true, httpStatus: stored.httpStatus, body: stored.body as object, replayed: true };
    }
    const answer = execute();
    if (answer.final) {
      ledger.saveAnswer({
        idempotencyKey: call.idempotencyKey,
        operation: call.operation,
        requestHash: call.requestHash,
        httpStatus: answer.httpStatus,
        body: answer.body,
      });
    }
    return { ...answer, replayed: false };
  });
}
