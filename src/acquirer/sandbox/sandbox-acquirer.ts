import { randomBytes, randomInt } from 'node:crypto';
import { unavailableBody } from './errors';
import { REVERSED_KEY_HASH, requestHash, type Answer } from './idempotency';
import type { Ledger, LedgerEntry } from './ledger';
import type { AmountBody, AuthorizationBody } from './requests';
import { TRANSIENT_ATTEMPTS, behaviourOf, declineOf } from './test-cards';

/**
 * The acquirer's rules for each money movement. Each method runs inside the idempotency
 * transaction (idempotency.ts) and is synchronous, so its checks and its ledger write are atomic.
 *
 * - capture: an approved authorization, not voided, not captured before, at most its amount.
 * - void: an approved authorization, not captured, not voided before.
 * - refund: a capture, up to what is captured and not refunded yet; partial refunds add up.
 * - settle: a capture, once.
 * - authorize with `capture_idempotency_key` (a sale): the authorization and, when approved, its
 *   capture of the whole amount in one transaction; a card whose capture fails is authorized and
 *   left uncaptured, the answer says why, and the caller voids it.
 *
 * Refusals are final answers (stored and replayed like successes); only transient failures are not.
 */
export class SandboxAcquirer {
  constructor(private readonly ledger: Ledger) {}

  authorize(idempotencyKey: string, request: AuthorizationBody): Answer {
    const behaviour = behaviourOf(request.pan);
    if (behaviour === 'transient_then_approve' && this.ledger.countAttempt(idempotencyKey) <= TRANSIENT_ATTEMPTS) {
      return { final: false, httpStatus: 503, body: unavailableBody() };
    }
    const decline = declineOf(behaviour);
    const movement = this.ledger.record({
      ref: newRef('auth'),
      kind: 'authorization',
      status: decline ? 'declined' : 'approved',
      // A decline is recorded, but moves nothing.
      amount: decline ? 0 : request.amount,
      currency: request.currency,
      merchant_id: request.merchant_id,
      idempotency_key: idempotencyKey,
      card_last4: request.pan.slice(-4),
      card_behaviour: behaviour,
      card_exp: `${String(request.exp_month).padStart(2, '0')}/${request.exp_year}`,
    });
    if (decline) {
      return {
        final: true,
        httpStatus: 402,
        body: { ref: movement.ref, status: 'declined', decline_code: decline.code, message: decline.message },
        movement,
      };
    }
    const approved = { ref: movement.ref, status: 'approved', authorization_code: authorizationCode() };
    if (request.capture_idempotency_key === undefined) return { final: true, httpStatus: 201, body: approved, movement };
    return { final: true, httpStatus: 201, body: { ...approved, capture: this.saleCapture(movement, request.capture_idempotency_key) }, movement };
  }

  /**
   * The capture half of a sale, inside the authorization's transaction. It is booked and its
   * answer stored under its own key exactly as `capture` would have (same operation, same request
   * hash), so an inquiry by the capture key finds it and a capture sent later with that key gets
   * the same answer instead of a second capture.
   */
  private saleCapture(authorization: LedgerEntry, captureKey: string): { ref: string } | { error: { code: string; message: string } } {
    if (this.ledger.findAnswer(captureKey) !== undefined) {
      return { error: { code: 'idempotency_key_reused', message: `Capture key ${captureKey} was already used; the authorization ${authorization.ref} is not captured` } };
    }
    const answer = this.capture(captureKey, authorization.ref, { amount: authorization.amount });
    const body = answer.body as { ref: string } | { error: { code: string; message: string } };
    // Only a capture is stored under its key: a refused one leaves the key free for the void that follows it.
    if ('ref' in body) {
      this.ledger.saveAnswer({
        idempotencyKey: captureKey,
        operation: 'capture',
        requestHash: requestHash('capture', { amount: authorization.amount, ref: authorization.ref }),
        httpStatus: answer.httpStatus,
        body,
      });
    }
    return body;
  }

  capture(idempotencyKey: string, authorizationRef: string, request: AmountBody): Answer {
    const authorization = this.approvedAuthorization(authorizationRef);
    if ('refusal' in authorization) return authorization.refusal;
    const { entry } = authorization;
    if (this.ledger.childrenOf(entry.ref, 'void').length > 0) {
      return refusal(409, 'already_voided', `Authorization ${entry.ref} was voided; it cannot be captured`);
    }
    if (this.ledger.childrenOf(entry.ref, 'capture').length > 0) {
      return refusal(409, 'already_captured', `Authorization ${entry.ref} was already captured; an authorization is captured once`);
    }
    if (request.amount > entry.amount) {
      return refusal(422, 'amount_exceeds_authorized', `Cannot capture ${request.amount}: authorization ${entry.ref} is for ${entry.amount}`);
    }
    if (entry.card_behaviour === 'capture_fails') {
      return refusal(422, 'capture_failed', `The issuer refused the capture of authorization ${entry.ref}; void it instead`);
    }
    return this.moved(idempotencyKey, entry, { kind: 'capture', amount: request.amount, prefix: 'cap' });
  }

  void(idempotencyKey: string, authorizationRef: string): Answer {
    const authorization = this.approvedAuthorization(authorizationRef);
    if ('refusal' in authorization) return authorization.refusal;
    const { entry } = authorization;
    if (this.ledger.childrenOf(entry.ref, 'capture').length > 0) {
      return refusal(409, 'already_captured', `Authorization ${entry.ref} was captured; refund the capture instead of voiding`);
    }
    if (this.ledger.childrenOf(entry.ref, 'void').length > 0) {
      return refusal(409, 'already_voided', `Authorization ${entry.ref} was already voided`);
    }
    return this.moved(idempotencyKey, entry, { kind: 'void', amount: entry.amount, prefix: 'void' });
  }

  refund(idempotencyKey: string, captureRef: string, request: AmountBody): Answer {
    const capture = this.ledger.find(captureRef);
    if (capture?.kind !== 'capture') return refusal(404, 'not_found', `No capture ${captureRef}`);
    const refunded = this.ledger.childrenOf(capture.ref, 'refund').reduce((sum, r) => sum + r.amount, 0);
    const refundable = capture.amount - refunded;
    if (request.amount > refundable) {
      return refusal(
        422,
        'refund_exceeds_captured',
        `Cannot refund ${request.amount}: capture ${capture.ref} of ${capture.amount} has ${refundable} left to refund`,
      );
    }
    return this.moved(idempotencyKey, capture, { kind: 'refund', amount: request.amount, prefix: 'ref' });
  }

  settle(idempotencyKey: string, captureRef: string): Answer {
    const capture = this.ledger.find(captureRef);
    if (capture?.kind !== 'capture') return refusal(404, 'not_found', `No capture ${captureRef}`);
    if (this.ledger.childrenOf(capture.ref, 'settlement').length > 0) {
      return refusal(409, 'already_settled', `Capture ${capture.ref} was already settled`);
    }
    const authorization = capture.parent_ref === null ? undefined : this.ledger.find(capture.parent_ref);
    if (authorization?.card_behaviour === 'settlement_fails') {
      return refusal(422, 'settlement_failed', `The issuer refused the settlement of capture ${capture.ref}; refund it instead`);
    }
    return this.moved(idempotencyKey, capture, { kind: 'settlement', amount: capture.amount, prefix: 'stl' });
  }

  /**
   * The timeout reversal of an authorization known only by its idempotency key: void it if it
   * was approved, report a decline, and if nothing arrived under that key yet, close the key with
   * a stored `authorization_reversed` answer so an authorization arriving late is refused.
   */
  reverse(idempotencyKey: string, authorizationKey: string): Answer {
    const stored = this.ledger.findAnswer(authorizationKey);
    if (stored === undefined) {
      this.ledger.saveAnswer({
        idempotencyKey: authorizationKey,
        operation: 'authorize',
        requestHash: REVERSED_KEY_HASH,
        httpStatus: 409,
        body: { error: { code: 'authorization_reversed', message: `Authorization ${authorizationKey} was reversed before it arrived; it cannot be approved` } },
      });
      return { final: true, httpStatus: 201, body: { outcome: 'closed' } };
    }
    const body = stored.body as { ref?: string; status?: string; capture?: unknown };
    if (stored.operation !== 'authorize' || body.ref === undefined) return { final: true, httpStatus: 201, body: { outcome: 'closed' } };
    if (body.status === 'declined') return { final: true, httpStatus: 201, body: { outcome: 'declined' } };
    const authorization = this.approvedAuthorization(body.ref);
    if ('refusal' in authorization) return authorization.refusal;
    const { entry } = authorization;
    const [captured] = this.ledger.childrenOf(entry.ref, 'capture');
    // A sale that arrived after its inquiry: it is done, authorized and captured. Nothing is
    // reversed; the caller reads the sale's answer back and the payment goes on from there.
    if (captured && 'capture' in body) return { final: true, httpStatus: 201, body: { outcome: 'captured', ref: captured.ref } };
    if (captured) {
      return refusal(409, 'already_captured', `Authorization ${entry.ref} was captured; refund the capture instead of reversing`);
    }
    const [voided] = this.ledger.childrenOf(entry.ref, 'void');
    if (voided) return { final: true, httpStatus: 201, body: { outcome: 'voided', ref: voided.ref } };
    const movement = this.moved(idempotencyKey, entry, { kind: 'void', amount: entry.amount, prefix: 'void' });
    return { ...movement, body: { outcome: 'voided', ref: (movement.body as { ref: string }).ref } };
  }

  private approvedAuthorization(ref: string): { entry: LedgerEntry } | { refusal: Answer } {
    const entry = this.ledger.find(ref);
    if (entry?.kind !== 'authorization') return { refusal: refusal(404, 'not_found', `No authorization ${ref}`) };
    if (entry.status !== 'approved') {
      return { refusal: refusal(409, 'authorization_declined', `Authorization ${ref} was declined; there is nothing to capture or void`) };
    }
    return { entry };
  }

  private moved(
    idempotencyKey: string,
    parent: LedgerEntry,
    movement: { kind: 'capture' | 'void' | 'refund' | 'settlement'; amount: number; prefix: string },
  ): Answer {
    const entry = this.ledger.record({
      ref: newRef(movement.prefix),
      kind: movement.kind,
      status: 'succeeded',
      parent_ref: parent.ref,
      amount: movement.amount,
      currency: parent.currency,
      merchant_id: parent.merchant_id,
      idempotency_key: idempotencyKey,
    });
    return { final: true, httpStatus: 201, body: { ref: entry.ref }, movement: entry };
  }
}

function refusal(httpStatus: number, code: string, message: string): Answer {
  return { final: true, httpStatus, body: { error: { code, message } } };
}

function newRef(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** Six characters, as issuers' approval codes are. */
function authorizationCode(): string {
  return Array.from({ length: 6 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
}
