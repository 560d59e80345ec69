import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import type { AuditEntry, AuditLog } from '../../audit/audit-log';
import type { PaymentRecords, RecordCursor, RecordFilters } from '../../records/payment-records';
import { SA } from '../../temporal/search-attribute-keys';
import { TASK_QUEUES } from '../../temporal/task-queues';
import type { CardIntake } from '../../vault/card-intake';
import { CardValidationError, validateCard } from '../../vault/card-validation';
import {
  paymentStateQuery,
  requestAnswerQuery,
  requestCancelSignal,
  requestCaptureSignal,
  requestRefundSignal,
  requestReviewSignal,
  type RequestAnswer,
  type RequestKind,
  type Requested,
} from '../../workflows/payment/definitions';
import type { paymentWorkflow } from '../../workflows/payment/payment-workflow';
import { REFUNDABLE_STATUSES, isFinal } from '../../workflows/payment/lifecycle';
import type { PaymentPolicy, PaymentState, StoredCard } from '../../workflows/payment/state';
import type { SealedCard } from '../../vault/card-intake';
import { ApiError } from '../errors';
import { paymentView, type PaymentView } from './payment-view';
import type { CreatePaymentBody, ListQuery } from './schemas';

export interface PaymentServiceOptions {
  policy: PaymentPolicy;
  /**
   * How long POST /v1/payments waits for the authorization decision, and an action (capture,
   * cancel, refund, review) for its outcome, before answering 202 with the payment as it is.
   */
  authorizationWaitMs: number;
  /**
   * How long the current request may still take, when its front door has a hard end (Lambda: the
   * invocation's remaining time less a margin). The wait is cut to it, so the answer is a 202 in
   * time rather than no answer at all. Unset or undefined: the wait alone bounds it.
   */
  requestTimeLeftMs?: () => number | undefined;
}

export interface CreateResult {
  /** 201 a new payment with its decision, 200 the same request again, 202 still processing. */
  status: 200 | 201 | 202;
  payment: PaymentView | { id: string; object: 'payment'; status: 'processing' };
}

/**
 * The merchant API's payment operations, over Temporal: one workflow per payment, its id derived
 * from the merchant and the idempotency key, so a retried request finds the same payment.
 */
export class PaymentService {
  constructor(
    private readonly client: Client,
    private readonly intake: CardIntake,
    private readonly audit: AuditLog,
    /** Read only: the records worker writes them (src/records). */
    private readonly records: PaymentRecords,
    private readonly options: PaymentServiceOptions,
  ) {}

  /** The wait for a decision or an outcome: AUTHORIZATION_WAIT_MS, or less when the request must end sooner. */
  private waitMs(): number {
    const left = this.options.requestTimeLeftMs?.();
    return left === undefined ? this.options.authorizationWaitMs : Math.max(0, Math.min(this.options.authorizationWaitMs, left));
  }

  async create(merchantId: string, idempotencyKey: string, body: CreatePaymentBody): Promise<CreateResult> {
    const paymentId = paymentIdFor(merchantId, idempotencyKey);
    let card;
    try {
      card = validateCard(body.card);
    } catch (err) {
      if (err instanceof CardValidationError) throw new ApiError(400, 'card_error', err.code, err.message, err.param);
      throw err;
    }
    const requestHash = hashRequest(body, card);
    return this.start(merchantId, paymentId, requestHash, {
      amount: body.amount,
      currency: body.currency,
      captureMethod: body.capture_method,
      ...(body.description !== undefined ? { description: body.description } : {}),
      metadata: body.metadata ?? {},
      card: { brand: card.brand, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear },
      // The payment's id on the seal row: GET /v1/payments/:id/card_data finds its card's story by it.
      seal: () => this.intake.seal(card, { actor: `merchant:${merchantId}`, merchantId, paymentId }),
      discard: (sealed) => this.intake.discard(sealed),
    });
  }

  /**
   * A payment from a card the vault already holds (a payment method, docs/stripe-compat.md): the
   * same workflow without tokenization, the CVV sealed with the method passed on its first use.
   * `paymentId` comes from the caller (one per confirmation of a payment intent); the same id again
   * is the same payment, and a different request under it is a conflict.
   */
  async createFromStoredCard(
    merchantId: string,
    paymentId: string,
    request: {
      amount: number;
      currency: string;
      captureMethod: 'automatic' | 'manual';
      description?: string;
      metadata: Record<string, string>;
      card: StoredCard & { expMonth: number; expYear: number };
      /** The method's sealed CVV, on its first use only. */
      cvvRef?: string;
    },
  ): Promise<CreateResult> {
    const { card } = request;
    const requestHash = createHash('sha256')
      .update(JSON.stringify([request.amount, request.currency, request.captureMethod, request.description ?? null, Object.entries(request.metadata).sort(([a], [b]) => a.localeCompare(b)), card.token]))
      .digest('hex');
    return this.start(merchantId, paymentId, requestHash, {
      amount: request.amount,
      currency: request.currency,
      captureMethod: request.captureMethod,
      ...(request.description !== undefined ? { description: request.description } : {}),
      metadata: request.metadata,
      card: { brand: card.brand, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear },
      storedCard: { token: card.token, bin: card.bin, brand: card.brand, last4: card.last4, fingerprint: card.fingerprint, ...(card.issuingCountry ? { issuingCountry: card.issuingCountry } : {}) },
      ...(request.cvvRef ? { cvvRef: request.cvvRef } : {}),
    });
  }

  /** Starts the payment's workflow (or finds the one this request started) and waits for its decision. */
  private async start(
    merchantId: string,
    paymentId: string,
    requestHash: string,
    payment: {
      amount: number;
      currency: string;
      captureMethod: 'automatic' | 'manual';
      description?: string;
      metadata: Record<string, string>;
      card: { brand: string; last4: string; expMonth: number; expYear: number };
      /** A new card: sealed once the request is known to be new; discarded if no payment starts. */
      seal?: () => Promise<SealedCard>;
      discard?: (sealed: SealedCard) => Promise<void>;
      storedCard?: StoredCard;
      cvvRef?: string;
    },
  ): Promise<CreateResult> {
    const handle = this.client.workflow.getHandle<typeof paymentWorkflow>(paymentId);
    // The whole request answers within the wait (+ the bounded read after it), Temporal up or not.
    const deadline = Date.now() + this.waitMs();
    const left = () => Math.max(0, deadline - Date.now());

    // A retried request: answer with the payment it created, or refuse a different body.
    const existing = await withinMs(this.exists(handle), Math.min(left(), READ_BOUND_MS));
    if (existing === undefined) throw unavailable();
    if (existing) return this.replay(handle, requestHash);

    const sealed = payment.seal ? await payment.seal() : undefined;
    const card = payment.card;
    let started;
    try {
      started = await withinMs(
        this.client.workflow.start<typeof paymentWorkflow>('paymentWorkflow', {
          workflowId: paymentId,
          taskQueue: TASK_QUEUES.payments,
          // Two identical requests racing each other end up on one workflow, never two payments.
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          args: [
            {
              paymentId,
              merchantId,
              amount: payment.amount,
              currency: payment.currency,
              captureMethod: payment.captureMethod,
              ...(payment.description !== undefined ? { description: payment.description } : {}),
              metadata: payment.metadata,
              ...(sealed ? { intakeRef: sealed.intakeRef, cvvRef: sealed.cvvRef } : {}),
              ...(payment.storedCard ? { storedCard: payment.storedCard } : {}),
              ...(payment.cvvRef ? { cvvRef: payment.cvvRef } : {}),
              cardSummary: { brand: card.brand, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear },
              requestHash,
              policy: this.options.policy,
            },
          ],
          typedSearchAttributes: [
            { key: SA.merchantId, value: merchantId },
            { key: SA.status, value: 'processing' },
            { key: SA.amount, value: payment.amount },
            { key: SA.currency, value: payment.currency },
            { key: SA.cardBrand, value: card.brand },
            { key: SA.cardLast4, value: card.last4 },
          ],
        }),
        left(),
      );
    } catch (err) {
      // No payment will ever use this card: destroy it now rather than at its TTL.
      if (sealed) await payment.discard?.(sealed).catch(() => undefined);
      // An identical request raced this one and started the payment: answer as its retry.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return this.replay(handle, requestHash);
      throw err;
    }
    // Temporal did not say in time whether the payment started. The sealed card stays (the payment
    // may be using it; its TTL destroys it otherwise); the same request again finds out.
    if (!started) throw unavailable('The payment could not be started in time; retry the same request (same Idempotency-Key) shortly');

    const state = await this.awaitState(handle, (s) => s.status !== 'processing', left);
    if (!state) return { status: 202, payment: { id: paymentId, object: 'payment', status: 'processing' } };
    if (state.requestHash !== requestHash) throw idempotencyConflict();
    if (state.status === 'processing') return { status: 202, payment: paymentView(state) };
    return { status: 201, payment: paymentView(state) };
  }

  /**
   * The payment: from its record once the workflow has written its last (nothing can change it
   * then, and the record outlives Temporal's history); from the workflow while it runs (the
   * workflow is the authority: a read never shows a state it has not reached). A payment whose
   * workflow is gone without a last write (deleted, terminated) answers from its record as it was.
   */
  async get(merchantId: string, paymentId: string): Promise<PaymentView> {
    return paymentView(await this.getState(merchantId, paymentId));
  }

  /** The payment's state, read as `get` reads it (record once final, workflow while it runs). */
  async getState(merchantId: string, paymentId: string): Promise<PaymentState> {
    const head = await this.records.head(paymentId);
    if (head && head.merchantId !== merchantId) throw notFound(paymentId);
    const fromRecord = async () => {
      const record = await this.records.get(paymentId);
      if (!record) throw notFound(paymentId); // purged in between
      return record.state;
    };
    if (head?.final) return fromRecord();
    let handle;
    try {
      handle = await this.owned(merchantId, paymentId);
    } catch (err) {
      if (head && err instanceof ApiError && err.code === 'payment_not_found') return fromRecord();
      throw err;
    }
    return this.state(handle);
  }

  /**
   * A page of the merchant's payments from the records, newest first. A running payment shows as
   * its record has it, at most one write behind its workflow; GET the payment for its timeline.
   */
  async list(merchantId: string, options: ListQuery) {
    const filters: RecordFilters = {
      ...(options.status ? { status: options.status } : {}),
      ...(options['created[gte]'] !== undefined ? { createdGte: options['created[gte]'] * 1000 } : {}),
      ...(options['created[lt]'] !== undefined ? { createdLt: options['created[lt]'] * 1000 } : {}),
      ...(options['amount[gte]'] !== undefined ? { amountGte: options['amount[gte]'] } : {}),
      ...(options['amount[lte]'] !== undefined ? { amountLte: options['amount[lte]'] } : {}),
      ...(options.last4 ? { last4: options.last4 } : {}),
    };
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, merchantId, filters);
    const page = await this.records.list(merchantId, filters, options.limit, after);
    const data = page.data.map((state) => {
      const { timeline: _timeline, ...item } = paymentView(state);
      return item;
    });
    return { object: 'list' as const, data, has_more: page.next !== undefined, next_cursor: page.next ? encodeCursor(page.next, merchantId, filters) : null };
  }

  async capture(merchantId: string, paymentId: string, amount?: number, idempotencyKey?: string): Promise<ActionResult> {
    const handle = await this.owned(merchantId, paymentId);
    const request = { ...(amount !== undefined ? { amount } : {}) };
    const audit: Omit<AuditEntry, 'outcome'> = { actor: `merchant:${merchantId}`, action: 'payment.capture', merchantId, paymentId, details: request };
    const requestId = requestIdFor('capture', paymentId, request, idempotencyKey);
    return this.audited(audit, () => this.act(handle, 'capture', requestCaptureSignal, { ...request, requestId }, (state) => state.status !== 'requires_capture'));
  }

  async cancel(merchantId: string, paymentId: string, reason?: string, idempotencyKey?: string): Promise<ActionResult> {
    const handle = await this.owned(merchantId, paymentId);
    const request = { ...(reason ? { reason } : {}) };
    const audit: Omit<AuditEntry, 'outcome'> = { actor: `merchant:${merchantId}`, action: 'payment.cancel', merchantId, paymentId };
    const requestId = requestIdFor('cancel', paymentId, request, idempotencyKey);
    return this.audited(audit, () => this.act(handle, 'cancel', requestCancelSignal, { ...request, requestId }, (state) => isFinal(state.status)));
  }

  async refund(merchantId: string, paymentId: string, request: { amount?: number; reason?: string; idempotencyKey?: string }) {
    const handle = await this.owned(merchantId, paymentId);
    // The same refund request retried is the same refund; without a key each request is new.
    const refundId = `re_${request.idempotencyKey ? createHash('sha256').update(`${paymentId}\0${request.idempotencyKey}`).digest('hex').slice(0, 24) : randomUUID().replace(/-/g, '').slice(0, 24)}`;
    const audit: Omit<AuditEntry, 'outcome'> = {
      actor: `merchant:${merchantId}`,
      action: 'payment.refund',
      merchantId,
      paymentId,
      details: { refundId, ...(request.amount !== undefined ? { amount: request.amount } : {}) },
    };
    let answer: ActionResult;
    try {
      answer = await this.audited(audit, () =>
        this.act(
          handle,
          'refund',
          requestRefundSignal,
          {
            requestId: `refund-${refundId}`,
            refundId,
            ...(request.amount !== undefined ? { amount: request.amount } : {}),
            ...(request.reason ? { reason: request.reason } : {}),
          },
          (state) => state.refunds.some((r) => r.id === refundId && r.status !== 'pending'),
        ),
      );
    } catch (err) {
      // The same refund asked again after the payment closed: it is still that refund.
      if (!(err instanceof ClosedPaymentError) || !err.state.refunds.some((r) => r.id === refundId)) throw err;
      answer = { state: err.state, done: true };
    }
    const { state, done } = answer;
    const refund = state.refunds.find((r) => r.id === refundId)!;
    return {
      // A refund whose outcome is not known yet is accepted, not done: 202 and `pending`.
      httpStatus: done && refund.status !== 'pending' ? (201 as const) : (202 as const),
      refund: {
        id: refund.id,
        object: 'refund',
        payment: paymentId,
        amount: refund.amount,
        currency: state.currency,
        status: refund.status,
        failure_reason: refund.failureReason ?? null,
        created: refund.createdAt,
      },
    };
  }

  async review(paymentId: string, decision: 'approve' | 'reject', actor: string, idempotencyKey?: string): Promise<ActionResult> {
    const handle = this.client.workflow.getHandle<typeof paymentWorkflow>(paymentId);
    const exists = await withinMs(this.exists(handle), READ_BOUND_MS);
    if (exists === undefined) throw unavailable();
    if (!exists) throw notFound(paymentId);
    const audit: Omit<AuditEntry, 'outcome'> = { actor, action: 'review.decision', paymentId, details: { decision } };
    const requestId = requestIdFor('review', paymentId, { decision, actor }, idempotencyKey);
    return this.audited(audit, () => this.act(handle, 'review', requestReviewSignal, { decision, actor, requestId }, (state) => state.status !== 'requires_review'));
  }

  /** Sensitive actions are written to the audit trail with their outcome, refused ones included (DESIGN.md §3, invariant 7). */
  private async audited<T>(entry: Omit<AuditEntry, 'outcome'>, work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      await this.audit.append({ ...entry, outcome: 'success' });
      return result;
    } catch (err) {
      const code = err instanceof ApiError ? err.code : 'error';
      await this.audit.append({ ...entry, outcome: 'failure', details: { ...entry.details, code } }).catch(() => undefined);
      throw err;
    }
  }

  /** The payment if it belongs to this merchant; otherwise 404, exactly as if it did not exist. */
  private async owned(merchantId: string, paymentId: string): Promise<WorkflowHandle<typeof paymentWorkflow>> {
    const handle = this.client.workflow.getHandle<typeof paymentWorkflow>(paymentId);
    let description;
    try {
      description = await withinMs(handle.describe(), READ_BOUND_MS);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notFound(paymentId);
      throw err;
    }
    if (!description) throw unavailable();
    if (description.typedSearchAttributes.get(SA.merchantId) !== merchantId) throw notFound(paymentId);
    return handle;
  }

  private async exists(handle: WorkflowHandle): Promise<boolean> {
    try {
      await handle.describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  private async replay(handle: WorkflowHandle<typeof paymentWorkflow>, requestHash: string): Promise<CreateResult> {
    const state = await this.state(handle);
    if (state.requestHash !== requestHash) throw idempotencyConflict();
    if (state.status === 'processing') return { status: 202, payment: paymentView(state) };
    return { status: 200, payment: paymentView(state) };
  }

  private async state(handle: WorkflowHandle<typeof paymentWorkflow>, withinMsBound = READ_BOUND_MS): Promise<PaymentState> {
    let state: PaymentState | undefined;
    try {
      state = await withinMs(handle.query(paymentStateQuery), withinMsBound);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw err;
      // Temporal busy or restarting (e.g. "context canceled"): the merchant retries, nothing changed.
      throw unavailable();
    }
    if (!state) throw unavailable();
    return state;
  }

  /**
   * Polls the payment until `ready` holds or the time left runs out. The last state read comes
   * back either way (undefined if none could be read in time).
   */
  private async awaitState(
    handle: WorkflowHandle<typeof paymentWorkflow>,
    ready: (state: PaymentState) => boolean,
    left: () => number,
  ): Promise<PaymentState | undefined> {
    let state: PaymentState | undefined;
    await pollWithin(
      () => handle.query(paymentStateQuery),
      (read) => {
        state = read ?? state;
        return state !== undefined && ready(state);
      },
      left,
    );
    return state;
  }

  /**
   * Sends a request (capture, cancel, refund, review) as a signal and answers within
   * `authorizationWaitMs` whatever the acquirer does: done (the payment after the action), or
   * accepted and still under way (the payment as it is now; the workflow acts on it). A request
   * the lifecycle refuses becomes a 409 with its reason and changes nothing.
   *
   * The signal is in the payment's history once Temporal takes it: from then on it is decided
   * exactly once, where it landed, even if the payments worker is down now. Its answer is read
   * back by request id and attempt: the same request retried (same id) is acted on once if it was
   * accepted, and decided anew if it was refused (a refusal changed nothing).
   */
  private async act<Arg extends Requested>(
    handle: WorkflowHandle<typeof paymentWorkflow>,
    kind: RequestKind,
    signal: SignalDefinition<[Arg]>,
    request: Arg,
    /** Whether the payment shows the action's outcome. */
    isDone: (state: PaymentState) => boolean,
  ): Promise<{ state: PaymentState; done: boolean }> {
    const deadline = Date.now() + this.waitMs();
    const left = () => Math.max(0, deadline - Date.now());
    // This sending of the request: its answer, not one given to an earlier sending of the same request.
    const attemptId = randomUUID();
    try {
      const sent = await withinMs(handle.signal(signal, { ...request, attemptId }).then(() => true), left());
      if (!sent) throw unavailable('Temporal did not take the request in time; retry the same request shortly');
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || /workflow execution already completed/i.test((err as Error).message)) {
        const state = await this.state(handle, ACCEPTED_READ_BOUND_MS);
        throw new ClosedPaymentError(state, kind === 'refund' && REFUNDABLE_STATUSES.includes(state.status) ? 'refund_window_closed' : 'payment_closed');
      }
      throw err;
    }
    let answer: RequestAnswer | undefined;
    await pollWithin(
      () => handle.query(requestAnswerQuery, request.requestId),
      (read) => {
        // Ours, or (once ours was accepted) the same accepted request answered to a later sending of it.
        if (read && (read.outcome?.attemptId === attemptId || (answer?.outcome?.accepted && read.outcome?.accepted))) answer = read;
        else if (read && !answer?.outcome) answer = { outcome: null, state: read.state };
        const outcome = answer?.outcome;
        if (outcome && !outcome.accepted) throw new ApiError(409, 'conflict_error', outcome.code ?? 'invalid_transition', outcome.message ?? 'The payment cannot do this now');
        return outcome !== null && outcome !== undefined && isDone(answer!.state);
      },
      left,
    );
    if (answer?.outcome) return { state: answer.state, done: isDone(answer.state) };
    // In the history, not yet decided: the payments worker is down or far behind.
    throw unavailable('The request is recorded but the payment has not taken it yet; retry the same request (same Idempotency-Key) to read its outcome');
  }
}

/** The workflow has completed: nothing can change the payment any more. Carries its final state. */
class ClosedPaymentError extends ApiError {
  constructor(
    readonly state: PaymentState,
    code: 'refund_window_closed' | 'payment_closed',
  ) {
    super(409, 'conflict_error', code, `Payment ${state.id} is closed (${state.status}); nothing can change it any more`);
  }
}

/** How long a read (describe, query) may take before the API answers 503. */
const READ_BOUND_MS = 5_000;
/** After an action's wait: the read of the payment as it is, kept short so the answer stays within the wait + 5 s. */
const ACCEPTED_READ_BOUND_MS = 3_000;

function unavailable(message = 'The payment could not be read in time; retry shortly'): ApiError {
  return new ApiError(503, 'api_error', 'payments_unavailable', message);
}

/**
 * The answer of a request is read back often while it is likely to come (a payment is decided in
 * a few activity hops: about 100–250 ms on an idle stack), then less and less often: each read is
 * a query the payments worker answers (by replaying the payment when it has no sticky cache,
 * docs/replay.md), so a wait of 10 s costs a few dozen reads, not hundreds. bench:e2e: reading
 * every 25, 50, 100, 200 ms answered a payment decided at 180 ms at 275 ms; reading every 10 ms for
 * the first 300 ms answers it within 10 ms of the decision.
 */
const EARLY_POLL_MS = 10;
const EARLY_WINDOW_MS = 300;
const MAX_POLL_MS = 500;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads (each read bounded, a failed or late one counting as nothing) until `done` says so or the
 * time left runs out, backing off between reads. `done` may throw to end the wait with an error.
 */
async function pollWithin<T>(read: () => Promise<T>, done: (value: T | undefined) => boolean, left: () => number): Promise<void> {
  const started = Date.now();
  for (let later = EARLY_POLL_MS; ; ) {
    const value = await withinMs(read(), Math.max(1, Math.min(left(), READ_BOUND_MS))).catch(() => undefined);
    if (done(value) || left() <= 0) return;
    const early = Date.now() - started < EARLY_WINDOW_MS;
    if (!early) later = Math.min(later * 2, MAX_POLL_MS);
    await sleep(Math.min(early ? EARLY_POLL_MS : later, left()));
  }
}

/**
 * A request's id: from the merchant's Idempotency-Key when it sent one (the same request retried
 * reads the same answer), otherwise new for each request (each is decided anew).
 */
function requestIdFor(kind: RequestKind, paymentId: string, request: object, idempotencyKey: string | undefined): string {
  if (!idempotencyKey) return `${kind}-${randomUUID()}`;
  return `${kind}-${createHash('sha256').update(JSON.stringify([paymentId, idempotencyKey, request])).digest('hex').slice(0, 32)}`;
}

/** What an action (capture, cancel, review) answers: 200 when it is done, 202 when accepted and under way. */
export interface ActionResult {
  state: PaymentState;
  done: boolean;
}

/** Payment ids are derived from the merchant and the idempotency key: the same request finds the same workflow. */
export function paymentIdFor(merchantId: string, idempotencyKey: string): string {
  return `pay_${createHash('sha256').update(`${merchantId}\0${idempotencyKey}`).digest('hex').slice(0, 24)}`;
}

/**
 * What makes two creation requests "the same": every field, with the card reduced to what may be
 * kept (BIN, last4, length, expiry). Hashing the full PAN would make the hash a way to test guesses
 * of the card number, so the PAN and CVC stay out of it.
 */
function hashRequest(body: CreatePaymentBody, card: { pan: string; bin: string; last4: string; expMonth: number; expYear: number }): string {
  const canonical = JSON.stringify([
    body.amount,
    body.currency,
    body.capture_method,
    body.description ?? null,
    Object.entries(body.metadata ?? {}).sort(([a], [b]) => a.localeCompare(b)),
    card.bin,
    card.last4,
    card.pan.length,
    card.expMonth,
    card.expYear,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Cursors wrap Temporal's page token with the merchant and filter they belong to, so a cursor
 * from another listing (or another merchant) is refused before Temporal sees it.
 */
/** A cursor is where the last page ended, bound to the merchant and the filters it was listed with. */
function encodeCursor(at: RecordCursor, merchantId: string, filters: RecordFilters): string {
  return Buffer.from(JSON.stringify({ m: merchantId, f: filterKey(filters), c: at.createdAt, i: at.paymentId })).toString('base64url');
}

function decodeCursor(cursor: string, merchantId: string, filters: RecordFilters): RecordCursor {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { m?: unknown; f?: unknown; c?: unknown; i?: unknown };
    if (parsed.m === merchantId && parsed.f === filterKey(filters) && Number.isSafeInteger(parsed.c) && typeof parsed.i === 'string' && /^pay_[a-f0-9]{24}$/.test(parsed.i)) {
      return { createdAt: parsed.c as number, paymentId: parsed.i };
    }
  } catch {
    // falls through to the refusal
  }
  throw invalidCursor();
}

const filterKey = (filters: RecordFilters) => JSON.stringify(Object.entries(filters).sort(([a], [b]) => a.localeCompare(b)));

function invalidCursor(): ApiError {
  return new ApiError(400, 'invalid_request_error', 'invalid_cursor', 'cursor must be the next_cursor of a previous page of this listing', 'cursor');
}

function notFound(paymentId: string): ApiError {
  return new ApiError(404, 'not_found_error', 'payment_not_found', `No payment ${paymentId}`, 'id');
}

function idempotencyConflict(): ApiError {
  return new ApiError(
    409,
    'conflict_error',
    'idempotency_key_reused',
    'This Idempotency-Key was already used with a different request; use a new key for a new payment',
    'Idempotency-Key',
  );
}

/** The promise's value, or undefined if it has not settled within `ms` (its later rejection is swallowed). */
export async function withinMs<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
    promise.catch(() => undefined);
  }
}
