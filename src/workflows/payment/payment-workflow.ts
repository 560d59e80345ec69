import { ApplicationFailure, CancellationScope, CancelledFailure, allHandlersFinished, condition, isCancellation, patched, setHandler } from '@temporalio/workflow';
import { createPaymentContext, type PaymentContext } from './context';
import {
  authorizationDecidedUpdate,
  cancelUpdate,
  captureUpdate,
  paymentStateQuery,
  refundUpdate,
  requestAnswerQuery,
  requestCancelSignal,
  requestCaptureSignal,
  requestRefundSignal,
  requestReviewSignal,
  reviewUpdate,
  type CancelRequest,
  type CaptureRequest,
  type RefundRequest,
  type RequestKind,
  type RequestOutcome,
  type Requested,
  type ReviewDecision,
} from './definitions';
import { cancelRefusal, captureRefusal, isFinal, refundRefusal, reviewRefusal, type LifecycleProgress, type Refusal } from './lifecycle';
import { PATCHES } from './patches';
import { UNENCRYPTED_PAYLOAD_CODE, UNENCRYPTED_PAYLOAD_MESSAGE, isUnencryptedPayload } from '../unencrypted-payload';
import { keepRecord } from './record-keeper';
import { nextSettlementCutoff } from './settlement-cutoff';
import * as step from './steps';
import type { PaymentInput, PaymentState } from './state';

/**
 * One payment, from the sealed card to the end of its refund window (DESIGN.md §4, §4a):
 *
 *   tokenize → fraud check (→ review) → authorize → purge CVV → capture (automatic, or on request
 *   before the authorization expires) → settle at the cutoff → refunds until the window closes.
 *
 * Automatic capture is a sale when the payment's policy says so: authorized and captured in the
 * one acquirer call, the capture step then has nothing left to do.
 *
 * Compensations: void when a capture is refused or a cancel is honoured after authorization;
 * refund when settlement is refused or the workflow is cancelled after capture.
 *
 * Every money call ends with a known outcome before the payment moves on (./known-outcome.ts).
 * Requests (capture, cancel, review, refund) arrive as signals; the lifecycle (./lifecycle.ts)
 * accepts or refuses each where it lands in the history, the answer is kept for the API to read,
 * and this main flow acts on accepted ones at the points where the lifecycle says it can, one money
 * call at a time. The payment's record (./record-keeper.ts) follows every change. Cancelling the workflow (the Web UI's
 * "Request Cancellation") is one more request: the call in flight reaches its known outcome, then
 * compensation acts on it.
 */
/** How many request answers a payment keeps for the API to read back (see `answers`). */
const MAX_ANSWERS = 200;

/**
 * Why a request that did not come from the gateway is refused before the lifecycle sees it: it
 * arrived unencrypted (the workers' codec turned it into the marker), or it is no request at all (a
 * signal sent with no input). Undefined for a well-formed one.
 */
function unfitRequest(request: unknown): Refusal | undefined {
  if (isUnencryptedPayload(request)) return { code: UNENCRYPTED_PAYLOAD_CODE, message: UNENCRYPTED_PAYLOAD_MESSAGE };
  if (typeof request !== 'object' || request === null) return { code: 'malformed_request', message: 'The request has no body; it is refused. Send it through the gateway API.' };
  return undefined;
}

export async function paymentWorkflow(input: PaymentInput): Promise<PaymentState> {
  // Started with plain input (straight to Temporal, without the payload key): failed at once, no activity runs.
  const unfitInput = unfitRequest(input);
  if (unfitInput && patched(PATCHES.refuseUnencrypted)) {
    throw ApplicationFailure.create({ type: unfitInput.code, message: unfitInput.message, nonRetryable: true });
  }
  const ctx = createPaymentContext(input);
  const { state } = ctx;
  // Payments started before records existed keep running without them (docs/replay.md).
  const recordKeeper = patched(PATCHES.paymentRecords) ? keepRecord(ctx) : undefined;
  const requests: {
    capture?: { amount: number };
    cancel?: { reason: string };
    review?: ReviewDecision;
    refund?: RefundRequest & { amount: number };
    /** The Web UI's Request Cancellation (or any workflow cancel). */
    workflowCancel?: true;
  } = {};
  const progress = { captureStarted: false, refundWindowClosed: false, closing: false };
  const cvvPurged = { done: false };

  CancellationScope.current().cancelRequested.catch(() => {
    requests.workflowCancel = true;
    ctx.record('workflow.cancel_requested');
  });

  const lifecycle = (): LifecycleProgress => ({
    status: state.status,
    amountCapturable: state.amountCapturable,
    amountCaptured: state.amountCaptured,
    amountRefunded: state.amountRefunded,
    captureStarted: progress.captureStarted,
    captureRequested: requests.capture !== undefined,
    cancelRequested: requests.cancel !== undefined,
    reviewDecided: requests.review !== undefined,
    refundPending: state.refunds.some((r) => r.status === 'pending'),
    refundWindowClosed: progress.refundWindowClosed,
    closing: progress.closing,
  });
  const refuseIf = (refusal: Refusal | undefined) => {
    if (refusal) throw ApplicationFailure.create({ type: refusal.code, message: refusal.message, nonRetryable: true });
  };
  /**
   * Handlers wait for the main flow to act, but never past the workflow's end: none can keep it
   * open. A workflow cancel (one more request the flow acts on) ends the wait instead of failing
   * the update: the caller gets the payment as it is, and reads its outcome afterwards.
   */
  const until = async (done: () => boolean) => {
    try {
      await condition(() => done() || progress.closing);
    } catch (err) {
      if (!isCancellation(err)) throw err;
    }
  };
  const cancelWanted = () => requests.cancel !== undefined || requests.workflowCancel === true;

  // ---- what each accepted request records; the main flow acts on it --------------------------------
  const acceptCapture = ({ amount }: CaptureRequest) => {
    requests.capture = { amount: amount ?? state.amountCapturable };
    ctx.record('capture.requested', String(requests.capture.amount));
  };
  const acceptCancel = ({ reason }: CancelRequest) => {
    requests.cancel = { reason: reason ?? 'requested_by_merchant' };
    ctx.record('cancel.requested', requests.cancel.reason);
  };
  const acceptReview = ({ decision, actor }: ReviewDecision) => {
    requests.review = { decision, actor };
  };
  /** The same refund request again (same id) is the same refund, never a second payout. */
  const knownRefund = (refundId: string) => state.refunds.some((r) => r.id === refundId);
  const acceptRefund = ({ refundId, amount, reason }: RefundRequest) => {
    if (knownRefund(refundId)) return;
    const refundAmount = amount ?? state.amountCaptured - state.amountRefunded;
    requests.refund = { refundId, amount: refundAmount, ...(reason ? { reason } : {}) };
    state.refunds.push({ id: refundId, amount: refundAmount, status: 'pending', createdAt: ctx.now() });
    ctx.record('refund.requested', `${refundAmount} ${state.currency}${reason ? ` (${reason})` : ''}`);
  };

  // ---- the interface: signals the lifecycle decides on, and queries --------------------------------
  /**
   * Answers by request id, for the API to read back. Bounded: a payment takes a handful of
   * requests; past the bound the oldest answers go (a request retried after that is decided anew,
   * which the lifecycle keeps safe: a second capture or cancel is refused, a refund is known by its id).
   */
  const answers = new Map<string, RequestOutcome>();
  const answer = (kind: RequestKind, { requestId, attemptId }: Requested, decide: () => Refusal | undefined, accept: () => void) => {
    const attempt = attemptId !== undefined ? { attemptId } : {};
    const previous = answers.get(requestId);
    // Accepted once is accepted for good: the same request again is told so, and acted on once.
    if (previous?.accepted) {
      answers.set(requestId, { ...previous, ...attempt });
      return;
    }
    // New, or refused before (a refusal changed nothing): decided now, where this one landed.
    answers.delete(requestId);
    const refusal = decide();
    if (refusal) {
      answers.set(requestId, { requestId, kind, accepted: false, code: refusal.code, message: refusal.message, ...attempt });
    } else {
      accept();
      answers.set(requestId, { requestId, kind, accepted: true, ...attempt });
    }
    if (answers.size > MAX_ANSWERS) answers.delete(answers.keys().next().value!);
  };
  setHandler(paymentStateQuery, () => state);
  setHandler(requestAnswerQuery, (requestId) => ({ outcome: answers.get(requestId) ?? null, state }));
  /**
   * A signal that did not come from the gateway is answered as refused and changes nothing else.
   * It has no request id to read the answer back by: the answer is kept under its code, and the
   * timeline says so. A signal is never thrown on here: a failing signal handler would fail every
   * workflow task of the payment from then on.
   */
  const refusedUnfit = (kind: RequestKind, request: unknown): boolean => {
    const refusal = unfitRequest(request);
    if (!refusal || !patched(PATCHES.refuseUnencrypted)) return false;
    answers.set(refusal.code, { requestId: refusal.code, kind, accepted: false, code: refusal.code, message: refusal.message });
    ctx.record('request.refused', `${kind}: ${refusal.code}`);
    return true;
  };
  setHandler(requestCaptureSignal, (signal) => {
    if (refusedUnfit('capture', signal)) return;
    const { requestId, attemptId, ...request } = signal;
    answer('capture', { requestId, attemptId }, () => captureRefusal(lifecycle(), request.amount), () => acceptCapture(request));
  });
  setHandler(requestCancelSignal, (signal) => {
    if (refusedUnfit('cancel', signal)) return;
    const { requestId, attemptId, ...request } = signal;
    answer('cancel', { requestId, attemptId }, () => cancelRefusal(lifecycle()), () => acceptCancel(request));
  });
  setHandler(requestReviewSignal, (signal) => {
    if (refusedUnfit('review', signal)) return;
    const { requestId, attemptId, ...decision } = signal;
    answer('review', { requestId, attemptId }, () => reviewRefusal(lifecycle()), () => acceptReview(decision));
  });
  setHandler(requestRefundSignal, (signal) => {
    if (refusedUnfit('refund', signal)) return;
    const { requestId, attemptId, ...request } = signal;
    answer('refund', { requestId, attemptId }, () => (knownRefund(request.refundId) ? undefined : refundRefusal(lifecycle(), request.amount)), () => acceptRefund(request));
  });

  // ---- the first release's updates (definitions.ts): same rules, kept for payments it started ------
  setHandler(authorizationDecidedUpdate, async () => {
    await until(() => state.status !== 'processing');
    return state;
  });
  setHandler(
    captureUpdate,
    async (request) => {
      acceptCapture(request);
      await until(() => state.status !== 'requires_capture');
      return state;
    },
    { validator: (request) => refuseIf(unfitRequest(request) ?? captureRefusal(lifecycle(), request.amount)) },
  );
  setHandler(
    cancelUpdate,
    async (request) => {
      acceptCancel(request);
      await until(() => isFinal(state.status));
      return state;
    },
    { validator: (request) => refuseIf(unfitRequest(request) ?? cancelRefusal(lifecycle())) },
  );
  setHandler(
    reviewUpdate,
    async (decision) => {
      acceptReview(decision);
      await until(() => state.status !== 'requires_review');
      return state;
    },
    { validator: (decision) => refuseIf(unfitRequest(decision) ?? reviewRefusal(lifecycle())) },
  );
  setHandler(
    refundUpdate,
    async (request) => {
      acceptRefund(request);
      await until(() => state.refunds.find((r) => r.id === request.refundId)!.status !== 'pending');
      return state;
    },
    {
      validator: (request) => {
        refuseIf(unfitRequest(request));
        if (knownRefund(request.refundId)) return;
        refuseIf(refundRefusal(lifecycle(), request.amount));
      },
    },
  );

  const finish = async () => {
    progress.closing = true;
    // Shielded: after a workflow cancel the root scope is cancelled, and a wait there would throw at once.
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    // The record is the payment once Temporal's history is gone: its last write lands before the workflow closes.
    await recordKeeper?.flush(true);
    return state;
  };
  const fail = async (code: string, message: string) => {
    state.failure = { code, message };
    ctx.setStatus('failed', code);
    await step.purgeCvv(ctx, cvvPurged);
  };
  const cancelReason = () => requests.cancel?.reason ?? 'workflow_canceled';

  // The whole flow is shielded from cancellation: a cancel is a request it acts on (see above).
  await CancellationScope.nonCancellable(async () => {
    ctx.record('payment.created', `${input.amount} ${input.currency}, capture ${input.captureMethod}`);
    if (await beforeAuthorization()) return;
    if (await authorization()) return;
    if (await captureStep()) return;
    await afterCapture();
  });
  await finish();
  if (requests.workflowCancel) throw new CancelledFailure('The payment workflow was cancelled; see the payment timeline for what was undone');
  return state;

  /** Tokenize, fraud check and review. True when the payment ended there. */
  async function beforeAuthorization(): Promise<boolean> {
    const tokenized = await step.tokenize(ctx);
    if (!tokenized.ok) return fail(tokenized.code, tokenized.message).then(() => true);
    if (cancelWanted()) return cancelWithoutMoney();

    const checked = await step.checkFraud(ctx);
    if (!checked.ok) return fail(checked.code, checked.message).then(() => true);
    const { decision } = checked;
    if (decision.decision === 'decline') return decline('fraud_declined');
    if (decision.decision === 'review') {
      // The CVV must outlive its TTL until the deadline: secured before the payment shows as in review.
      await step.retainCvvUntil(ctx, Date.now() + input.policy.reviewDeadlineMs);
      // State only (no command): the review queue shows when the review expires.
      state.fraud!.reviewDeadline = new Date(Date.now() + input.policy.reviewDeadlineMs).toISOString();
      ctx.setStatus('requires_review');
      const decidedInTime = await condition(() => requests.review !== undefined || cancelWanted(), input.policy.reviewDeadlineMs);
      // Time first (see afterCapture): a request in the same activation as the deadline does not change the path.
      if (!decidedInTime) return decline('fraud_review_expired');
      if (cancelWanted()) return cancelWithoutMoney();
      if (requests.review) state.fraud!.reviewedBy = requests.review.actor;
      if (requests.review!.decision === 'reject') return decline('fraud_review_rejected');
      ctx.setStatus('processing', `review approved by ${requests.review!.actor}`);
    }
    if (cancelWanted()) return cancelWithoutMoney();
    return false;
  }

  /**
   * Authorize (with automatic capture, as a sale when the policy says so), then destroy the CVV
   * whatever happened (the vault does it with the answer). True when the payment ended there.
   */
  async function authorization(): Promise<boolean> {
    // Asked only when it can apply, so payments without the policy flag record no marker.
    const sale = input.captureMethod === 'automatic' && input.policy.automaticCaptureAsSale === true && patched(PATCHES.sale);
    // The capture goes out with the authorization: from here a cancel cannot be honoured by a void.
    if (sale) progress.captureStarted = true;
    const authorized = await step.authorize(ctx, { sale });
    // Destroyed by the vault with the answer, when it says so; otherwise by the purge activity.
    if (patched(PATCHES.cvvPurgedInAuthorization) && authorized.ok && authorized.result.cvvPurged) step.cvvPurgedWithAuthorization(ctx, cvvPurged);
    await step.purgeCvv(ctx, cvvPurged);
    if (!authorized.ok) return fail(authorized.code, authorized.message).then(() => true);
    const { result } = authorized;
    if (result.outcome === 'declined') return decline(result.declineCode);
    ctx.refs.authorization = result.acquirerRef;
    state.amountCapturable = input.amount;
    ctx.record('payment.authorized', result.acquirerRef);
    if (result.capture?.outcome === 'captured') {
      // A sale: the money is taken. A workflow cancel meanwhile is acted on after capture (a refund).
      markCaptured(result.capture.acquirerRef);
      return false;
    }
    // The sale's capture was refused: the authorization stands alone, and is released as a refused capture is.
    if (result.capture?.outcome === 'refused') return releaseAndEnd('failed', 'capture_failed', result.capture.message);
    // A cancel accepted while the authorization was in flight is honoured now, by a void.
    if (cancelWanted()) return releaseAndEnd('canceled', cancelReason());
    return false;
  }

  /** The capture (by the sale, or the capture call for `amount`) is in: the payment is captured. */
  function markCaptured(captureRef: string, amount = input.amount): void {
    ctx.refs.capture = captureRef;
    state.amountCaptured = amount;
    state.amountCapturable = 0;
    ctx.setStatus('captured', captureRef);
  }

  /** Automatic capture, or wait for the merchant's until the authorization expires. True when the payment ended there. */
  async function captureStep(): Promise<boolean> {
    // Captured by the sale already.
    if (ctx.refs.capture) return false;
    if (input.captureMethod === 'manual') {
      state.captureBefore = new Date(Date.now() + input.policy.authorizationExpiryMs).toISOString();
      ctx.setStatus('requires_capture');
      const requested = await condition(() => requests.capture !== undefined || cancelWanted(), input.policy.authorizationExpiryMs);
      if (cancelWanted() || !requested) return releaseAndEnd('canceled', requested ? cancelReason() : 'authorization_expired');
    }
    progress.captureStarted = true;
    const amount = requests.capture?.amount ?? input.amount;
    const captured = await step.capture(ctx, amount);
    if (!captured.ok) {
      await releaseAndEnd('failed', captured.code, captured.message);
      return true;
    }
    markCaptured(captured.result.acquirerRef, amount);
    return false;
  }

  /** Refunds as they are requested, settlement at the cutoff, until the refund window closes. */
  async function afterCapture(): Promise<void> {
    const cutoff = nextSettlementCutoff(Date.now(), input.policy.settlementCutoffUtc);
    const refundableUntil = Date.parse(state.createdAt) + input.policy.refundWindowMs;
    state.refundableUntil = new Date(refundableUntil).toISOString();
    for (;;) {
      const wakeAt = state.settledAt ? refundableUntil : cutoff;
      const woken = await condition(() => requests.refund !== undefined || requests.workflowCancel === true, Math.max(1, wakeAt - Date.now()));
      // Time first: when the timer fires, its step runs even if a request was accepted in the same
      // activation. On replay the SDK may deliver that request together with the timer although
      // it came after it: deciding by the condition's own answer keeps the path the same.
      if (woken && requests.refund) {
        await merchantRefund(requests.refund);
        delete requests.refund;
        continue;
      }
      if (woken && requests.workflowCancel) {
        // Captured money not yet settled goes back; a settled payment just closes (refunds are the merchant's call).
        if (!state.settledAt && state.amountRefunded < state.amountCaptured) await reverse('workflow_canceled');
        if (requests.refund) refuseQueuedRefund(requests.refund.refundId, 'payment_canceled');
        return;
      }
      if (state.settledAt) break;
      const settled = await step.settle(ctx);
      if (!settled.ok) {
        // Compensation: money that cannot settle goes back to the cardholder.
        state.failure = { code: settled.code, message: settled.message };
        await reverse('settlement_failed');
        // What the reversal returned covers a refund that was still waiting its turn.
        if (requests.refund) refuseQueuedRefund(requests.refund.refundId, 'payment_reversed');
        return;
      }
      state.settledAt = ctx.now();
      if (state.status === 'captured') ctx.setStatus('settled');
      // Settled, but the status stays (partially_refunded): a timeline entry, not a transition.
      else ctx.record('settlement.succeeded', `status stays ${state.status}`);
    }
    progress.refundWindowClosed = true;
    ctx.record('refund_window.closed');
    // A refund accepted as the window closed was never sent: it is refused, not left pending.
    if (requests.refund) refuseQueuedRefund(requests.refund.refundId, 'refund_window_closed');
  }

  function refuseQueuedRefund(refundId: string, code: string): void {
    const entry = state.refunds.find((r) => r.id === refundId && r.status === 'pending');
    if (!entry) return;
    entry.status = 'failed';
    entry.failureReason = code;
    ctx.record('refund.failed', code);
  }

  async function merchantRefund(request: RefundRequest & { amount: number }): Promise<void> {
    const entry = state.refunds.find((r) => r.id === request.refundId)!;
    const refunded = await step.refund(ctx, request.refundId, request.amount);
    if (!refunded.ok) {
      entry.status = 'failed';
      entry.failureReason = refunded.code;
      ctx.record('refund.failed', refunded.code);
      return;
    }
    entry.status = 'succeeded';
    entry.acquirerRef = refunded.result.acquirerRef;
    state.amountRefunded += request.amount;
    ctx.record('refund.succeeded', `${request.amount} ${state.currency}`);
    ctx.setStatus(state.amountRefunded === state.amountCaptured ? 'refunded' : 'partially_refunded');
  }

  /**
   * Compensation after capture: refund what is left, from totals that are current (one money call
   * at a time). A payment already refunded in full has nothing left to return and stays `refunded`.
   */
  async function reverse(reason: string): Promise<void> {
    const amount = state.amountCaptured - state.amountRefunded;
    if (amount <= 0) {
      ctx.record('payment.reversal_not_needed', `${reason}: refunded in full already`);
      return;
    }
    const refundId = 'reversal';
    state.refunds.push({ id: refundId, amount, status: 'pending', createdAt: ctx.now() });
    const entry = state.refunds[state.refunds.length - 1]!;
    const refunded = await step.refund(ctx, refundId, amount);
    if (!refunded.ok) {
      // Refused for good (never on a guess): the money stays captured, and the payment says so.
      entry.status = 'failed';
      entry.failureReason = refunded.code;
      state.failure ??= { code: refunded.code, message: refunded.message };
      ctx.record('refund.failed', `${refunded.code} (${reason})`);
      return;
    }
    entry.status = 'succeeded';
    entry.acquirerRef = refunded.result.acquirerRef;
    state.amountRefunded += amount;
    ctx.record('refund.succeeded', `${amount} ${state.currency} (${reason})`);
    ctx.setStatus('reversed', reason);
  }

  /**
   * Releases the authorization (void) and ends the payment with `status`. A void that finds the
   * authorization captured after all (an answer lost earlier) refunds the capture instead.
   */
  async function releaseAndEnd(status: 'canceled' | 'failed', code: string, message?: string): Promise<true> {
    const released = await step.voidAuthorization(ctx);
    state.amountCapturable = 0;
    if (!released.voided && released.alreadyCaptured) {
      const captureRef = await step.knownCapture(ctx);
      if (captureRef) {
        ctx.refs.capture = captureRef;
        state.amountCaptured = requests.capture?.amount ?? input.amount;
        ctx.setStatus('captured', captureRef);
        await reverse(code);
        return true;
      }
    }
    if (status === 'failed') await fail(code, message ?? code);
    else ctx.setStatus('canceled', code);
    return true;
  }

  /** Nothing was sent to the acquirer yet: nothing to undo. */
  async function cancelWithoutMoney(): Promise<true> {
    await step.purgeCvv(ctx, cvvPurged);
    ctx.setStatus('canceled', cancelReason());
    return true;
  }

  async function decline(code: string): Promise<true> {
    state.declineCode = code;
    await step.purgeCvv(ctx, cvvPurged);
    ctx.setStatus('declined', code);
    return true;
  }
}

export type { PaymentContext };
