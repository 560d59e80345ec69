import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  proxyActivities,
  proxySinks,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { AcquirerActivities } from '../../activities/acquirer';
import type { FraudActivities } from '../../activities/fraud';
import type { VaultActivities } from '../../activities/vault';
import type { MetricsSinks } from '../../observability/metrics';
import { SA } from '../../temporal/search-attribute-keys';
import { TASK_QUEUES } from '../../temporal/task-queues';
import {
  authorizationDecidedUpdate,
  cancelUpdate,
  captureUpdate,
  paymentStateQuery,
  refundUpdate,
  reviewUpdate,
  type ReviewDecision,
} from './definitions';
import { nextSettlementCutoff } from './settlement-cutoff';
import type { PaymentInput, PaymentState, PaymentStatus } from './state';

/** Transient failures are retried with backoff; anything the activity marks non-retryable is final. */
const transientRetry: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8 };

// Start-to-close timeouts are a little above the acquirer client's 10 s HTTP timeout: a call
// whose worker died is retried after this long, so it must be short (DESIGN.md §6, crash test).
const vault = proxyActivities<Pick<VaultActivities, 'tokenize' | 'authorize'>>({
  taskQueue: TASK_QUEUES.vault,
  startToCloseTimeout: '15s',
  retry: transientRetry,
});
/** Purging a CVV is retried until it succeeds (DESIGN.md §4); the TTL sweeper is the backstop. */
const cvv = proxyActivities<Pick<VaultActivities, 'purgeCvv'>>({
  taskQueue: TASK_QUEUES.vault,
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
const fraud = proxyActivities<Pick<FraudActivities, 'checkFraud'>>({
  taskQueue: TASK_QUEUES.fraud,
  startToCloseTimeout: '10s',
  retry: { ...transientRetry, maximumAttempts: 5 },
});
const acquirer = proxyActivities<Omit<AcquirerActivities, 'ping'>>({
  taskQueue: TASK_QUEUES.acquirer,
  startToCloseTimeout: '15s',
  retry: transientRetry,
});

/**
 * One payment, from the sealed card to the end of its refund window (DESIGN.md §4):
 * tokenize → fraud check (→ review) → authorize → purge CVV → capture (automatic, or on request
 * before the authorization expires) → settle at the cutoff → refunds until the window closes.
 * Compensation: void if capture fails for good, refund if settlement fails for good, and both when
 * the workflow is cancelled. The workflow only decides; every effect is an activity.
 */
/**
 * Compensations (void, reversal refund) are retried until they succeed, like the CVV purge: giving
 * up would leave the cardholder's funds held (or taken) and fail the workflow mid-state.
 */
const compensation = proxyActivities<Pick<AcquirerActivities, 'voidAuthorization' | 'refundPayment'>>({
  taskQueue: TASK_QUEUES.acquirer,
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

const { metrics } = proxySinks<MetricsSinks>();

export async function paymentWorkflow(input: PaymentInput): Promise<PaymentState> {
  const { paymentId, merchantId, policy } = input;
  const now = () => new Date(Date.now()).toISOString();
  const state: PaymentState = {
    id: paymentId,
    merchantId,
    status: 'processing',
    amount: input.amount,
    currency: input.currency,
    captureMethod: input.captureMethod,
    ...(input.description !== undefined ? { description: input.description } : {}),
    metadata: input.metadata ?? {},
    amountCapturable: 0,
    amountCaptured: 0,
    amountRefunded: 0,
    card: { ...input.cardSummary },
    refunds: [],
    createdAt: now(),
    requestHash: input.requestHash,
    timeline: [],
  };
  const refs: { token?: string; bin?: string; authorization?: string; capture?: string } = {};
  let cvvPurged = false;
  let captureRequest: { amount: number } | undefined;
  let cancelRequested: string | undefined;
  let reviewDecision: ReviewDecision | undefined;
  let refundWindowClosed = false;

  const record = (event: string, detail?: string) => state.timeline.push({ at: now(), event, ...(detail ? { detail } : {}) });
  const setStatus = (status: PaymentStatus, detail?: string) => {
    const changed = state.status !== status;
    state.status = status;
    record(`payment.${status}`, detail);
    upsertSearchAttributes([{ key: SA.status, value: status }]);
    // Leaves the sandbox through a sink: no history event, not called again on replay.
    if (changed && FINAL_OR_DONE.includes(status)) metrics.paymentFinished(status);
  };
  const decided = () => state.status !== 'processing';

  // ---- the interface: one query, and updates whose validators refuse illegal transitions -----
  setHandler(paymentStateQuery, () => state);
  setHandler(authorizationDecidedUpdate, async () => {
    await condition(decided);
    return state;
  });
  // Handlers record the request and wait; the main flow acts on it. Validators refuse illegal
  // transitions before anything is written to history, so a refused update changes nothing.
  setHandler(
    captureUpdate,
    async ({ amount }) => {
      captureRequest = { amount: amount ?? state.amountCapturable };
      await condition(() => state.status !== 'requires_capture');
      return state;
    },
    {
      validator: ({ amount }) => {
        if (state.status !== 'requires_capture' || captureRequest || cancelRequested) {
          throw conflict('payment_not_capturable', `A payment in status ${state.status} cannot be captured`);
        }
        if (amount !== undefined && (!Number.isInteger(amount) || amount <= 0 || amount > state.amountCapturable)) {
          throw conflict('amount_exceeds_capturable', `The capture amount must be between 1 and ${state.amountCapturable}`);
        }
      },
    },
  );
  setHandler(
    cancelUpdate,
    async ({ reason }) => {
      cancelRequested = reason ?? 'requested_by_merchant';
      await condition(() => state.status === 'canceled' || state.status === 'failed');
      return state;
    },
    {
      validator: (_request) => {
        if (!['processing', 'requires_review', 'requires_capture'].includes(state.status) || captureRequest || cancelRequested) {
          throw conflict('payment_not_cancelable', `A payment in status ${state.status} cannot be canceled; refund it instead`);
        }
      },
    },
  );
  setHandler(
    reviewUpdate,
    async (decision) => {
      reviewDecision = decision;
      await condition(() => state.status !== 'requires_review');
      return state;
    },
    {
      validator: (_decision) => {
        if (state.status !== 'requires_review' || reviewDecision) {
          throw conflict('payment_not_in_review', `A payment in status ${state.status} is not waiting for a review`);
        }
      },
    },
  );
  let refundInFlight = false;
  setHandler(
    refundUpdate,
    async ({ refundId, amount, reason }) => {
      const previous = state.refunds.find((r) => r.id === refundId);
      if (previous) return state; // the same refund request again: already done
      const refundAmount = amount ?? state.amountCaptured - state.amountRefunded;
      refundInFlight = true;
      try {
        const { acquirerRef } = await acquirer.refundPayment({ paymentId, captureRef: refs.capture!, amount: refundAmount, refundId });
        state.amountRefunded += refundAmount;
        state.refunds.push({ id: refundId, amount: refundAmount, status: 'succeeded', acquirerRef, createdAt: now() });
        record('refund.succeeded', `${refundAmount} ${state.currency}${reason ? ` (${reason})` : ''}`);
        setStatus(state.amountRefunded === state.amountCaptured ? 'refunded' : 'partially_refunded');
      } catch (err) {
        state.refunds.push({ id: refundId, amount: refundAmount, status: 'failed', failureReason: failureCode(err), createdAt: now() });
        record('refund.failed', failureCode(err));
      } finally {
        refundInFlight = false;
      }
      return state;
    },
    {
      validator: ({ amount, refundId }) => {
        if (state.refunds.some((r) => r.id === refundId)) return;
        if (!['captured', 'settled', 'partially_refunded'].includes(state.status) || !refs.capture) {
          throw conflict('payment_not_refundable', `A payment in status ${state.status} cannot be refunded`);
        }
        if (refundWindowClosed) throw conflict('refund_window_closed', `The refund window closed at ${state.refundableUntil}`);
        if (refundInFlight) throw conflict('refund_in_progress', 'Another refund of this payment is in progress; retry shortly');
        const remaining = state.amountCaptured - state.amountRefunded;
        if (amount !== undefined && (!Number.isInteger(amount) || amount <= 0 || amount > remaining)) {
          throw conflict('amount_exceeds_refundable', `The refund amount must be between 1 and ${remaining}`);
        }
      },
    },
  );

  const purgeCvv = async () => {
    if (cvvPurged) return;
    // Runs even if the workflow is being cancelled: a CVV must never outlive its authorization.
    await CancellationScope.nonCancellable(() => cvv.purgeCvv({ cvvRef: input.cvvRef, merchantId, paymentId }));
    cvvPurged = true;
    record('cvv.purged');
  };
  const fail = async (code: string, message: string) => {
    state.failure = { code, message };
    setStatus('failed', code);
    await purgeCvv();
    return finish();
  };
  const finish = async () => {
    await condition(allHandlersFinished);
    return state;
  };

  record('payment.created', `${input.amount} ${input.currency}, capture ${input.captureMethod}`);
  try {
    // ---- tokenize -------------------------------------------------------------------------------
    try {
      const card = await vault.tokenize({ intakeRef: input.intakeRef, merchantId, paymentId });
      refs.token = card.token;
      refs.bin = card.bin;
      state.card = {
        brand: card.brand,
        last4: card.last4,
        expMonth: card.expMonth,
        expYear: card.expYear,
        fingerprint: card.fingerprint,
        ...(card.issuingCountry ? { issuingCountry: card.issuingCountry } : {}),
      };
      record('card.tokenized');
    } catch (err) {
      if (isCancellation(err)) throw err;
      return await fail('tokenization_failed', failureMessage(err));
    }

    // ---- fraud check (and review) --------------------------------------------------------------
    let fraudDecision;
    try {
      fraudDecision = await fraud.checkFraud({
        paymentId,
        merchantId,
        amount: input.amount,
        currency: input.currency,
        card: { fingerprint: state.card.fingerprint!, bin: refs.bin!, last4: state.card.last4, brand: state.card.brand, issuingCountry: state.card.issuingCountry },
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return await fail('fraud_check_failed', failureMessage(err));
    }
    state.fraud = { decision: fraudDecision.decision, reasons: fraudDecision.reasons };
    record(`fraud.${fraudDecision.decision}`, fraudDecision.reasons.map((r) => r.rule).join(', ') || undefined);
    if (fraudDecision.decision === 'review') {
      setStatus('requires_review');
      const decidedInTime = await condition(() => reviewDecision !== undefined || cancelRequested !== undefined, policy.reviewDeadlineMs);
      if (cancelRequested) {
        await purgeCvv();
        setStatus('canceled', cancelRequested);
        return await finish();
      }
      if (!decidedInTime || reviewDecision?.decision === 'reject') {
        state.declineCode = decidedInTime ? 'fraud_review_rejected' : 'fraud_review_expired';
        if (reviewDecision) state.fraud.reviewedBy = reviewDecision.actor;
        await purgeCvv();
        setStatus('declined', state.declineCode);
        return await finish();
      }
      state.fraud.reviewedBy = reviewDecision!.actor;
      setStatus('processing', `review approved by ${reviewDecision!.actor}`);
    } else if (fraudDecision.decision === 'decline') {
      state.declineCode = 'fraud_declined';
      await purgeCvv();
      setStatus('declined', 'fraud_declined');
      return await finish();
    }

    // ---- authorize, then destroy the CVV whatever happened ---------------------------------------
    let authorization;
    try {
      authorization = await vault.authorize({ token: refs.token!, cvvRef: input.cvvRef, amount: input.amount, currency: input.currency, merchantId, paymentId });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return await fail('authorization_failed', failureMessage(err));
    } finally {
      await purgeCvv();
    }
    if (authorization.outcome === 'declined') {
      state.declineCode = authorization.declineCode;
      setStatus('declined', authorization.declineCode);
      return await finish();
    }
    refs.authorization = authorization.acquirerRef;
    state.amountCapturable = input.amount;
    record('payment.authorized', authorization.acquirerRef);

    // ---- capture: automatic, or on request before the authorization expires ---------------------
    if (input.captureMethod === 'manual') {
      state.captureBefore = new Date(Date.now() + policy.authorizationExpiryMs).toISOString();
      setStatus('requires_capture');
      const requested = await condition(() => captureRequest !== undefined || cancelRequested !== undefined, policy.authorizationExpiryMs);
      if (!requested || cancelRequested) {
        await voidAuthorization();
        state.amountCapturable = 0;
        setStatus('canceled', requested ? cancelRequested : 'authorization_expired');
        return await finish();
      }
    }
    const captureAmount = captureRequest?.amount ?? input.amount;
    try {
      const { acquirerRef } = await acquirer.capturePayment({ paymentId, authorizationRef: refs.authorization, amount: captureAmount });
      refs.capture = acquirerRef;
    } catch (err) {
      if (isCancellation(err)) throw err;
      // Compensation: a capture that failed for good releases the cardholder's funds.
      await voidAuthorization();
      state.amountCapturable = 0;
      return await fail('capture_failed', failureMessage(err));
    }
    state.amountCaptured = captureAmount;
    state.amountCapturable = 0;
    setStatus('captured', refs.capture);

    // ---- settle at the next cutoff --------------------------------------------------------------
    const cutoff = nextSettlementCutoff(Date.now(), policy.settlementCutoffUtc);
    await sleep(cutoff - Date.now());
    try {
      await acquirer.settlePayment({ paymentId, captureRef: refs.capture });
    } catch (err) {
      if (isCancellation(err)) throw err;
      // Compensation: money that cannot settle goes back to the cardholder.
      await refundRemainder('settlement_failed');
      state.failure = { code: 'settlement_failed', message: failureMessage(err) };
      setStatus('reversed', 'settlement_failed');
      return await finish();
    }
    state.settledAt = now();
    if (state.status === 'captured') setStatus('settled');
    else record('payment.settled');

    // ---- refunds until the window closes --------------------------------------------------------
    const refundableUntil = Date.parse(state.createdAt) + policy.refundWindowMs;
    state.refundableUntil = new Date(refundableUntil).toISOString();
    await sleep(Math.max(0, refundableUntil - Date.now()));
    await condition(() => !refundInFlight);
    refundWindowClosed = true;
    record('refund_window.closed');
    return await finish();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled (e.g. by an operator in the Web UI): undo what moved, then stop.
    await CancellationScope.nonCancellable(async () => {
      await purgeCvv();
      if (refs.capture && !state.settledAt && state.amountRefunded < state.amountCaptured) {
        await refundRemainder('workflow_canceled');
        setStatus('reversed', 'workflow_canceled');
      } else if (refs.authorization && !refs.capture) {
        await voidAuthorization();
        state.amountCapturable = 0;
        setStatus('canceled', 'workflow_canceled');
      } else if (!FINAL_OR_DONE.includes(state.status)) {
        setStatus('canceled', 'workflow_canceled');
      }
    });
    throw err;
  }

  async function voidAuthorization() {
    await CancellationScope.nonCancellable(() => compensation.voidAuthorization({ paymentId, authorizationRef: refs.authorization! }));
    record('authorization.voided');
  }

  async function refundRemainder(reason: string) {
    const amount = state.amountCaptured - state.amountRefunded;
    const { acquirerRef } = await CancellationScope.nonCancellable(() =>
      compensation.refundPayment({ paymentId, captureRef: refs.capture!, amount, refundId: `reversal` }),
    );
    state.amountRefunded += amount;
    state.refunds.push({ id: 'reversal', amount, status: 'succeeded', acquirerRef, createdAt: now() });
    record('refund.succeeded', `${amount} ${state.currency} (${reason})`);
  }

}

const FINAL_OR_DONE: readonly PaymentStatus[] = ['declined', 'canceled', 'failed', 'reversed', 'settled', 'refunded', 'partially_refunded'];

function conflict(code: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: code, message, nonRetryable: true });
}

/** The reason a step failed for good, in words fit for the merchant (never card data: activities never carry any). */
function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

function failureCode(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type ? cause.type : 'refund_failed';
}

