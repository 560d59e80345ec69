import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PaymentState } from './state';

/**
 * The payment workflow's interface (DESIGN.md §4): a signal for every action a merchant or an
 * operator asks for, and queries for the payment as the API shows it and for a request's answer.
 * Shared by the workflow and the API; nothing here may import Node modules.
 *
 * Why signals and not updates: a signal is an event in the history as soon as Temporal takes it,
 * even while no payments worker runs, ordered with the timers and activity results around it,
 * and decided once where it landed. An update needs a running worker to be accepted, and an
 * accepted update can stay pending. The API signals a request with an id, then reads its answer
 * (accepted or refused, with the lifecycle's reason) with `requestAnswerQuery`. (The payments
 * worker's sticky cache is off for a related SDK defect: docs/replay.md.)
 */

export interface CaptureRequest {
  /** Minor units, at most the authorized amount; the whole authorization when absent. */
  amount?: number;
}

export interface CancelRequest {
  reason?: string;
}

export interface RefundRequest {
  /** Stable per refund request (the API derives it from the request's idempotency key). */
  refundId: string;
  /** Minor units, at most captured minus refunded; the remainder when absent. */
  amount?: number;
  reason?: string;
}

export interface ReviewDecision {
  decision: 'approve' | 'reject';
  /** The operator who decided, for the timeline and the audit trail. */
  actor: string;
}

/**
 * Every request carries the id its answer is read back by; the same id again is the same request.
 * `attemptId` names one sending of it (one HTTP request), so the sender reads the answer to its
 * own attempt: a request refused before (which changed nothing) is decided anew when sent again.
 */
export interface Requested {
  requestId: string;
  attemptId?: string;
}

export const requestCaptureSignal = defineSignal<[CaptureRequest & Requested]>('requestCapture');
export const requestCancelSignal = defineSignal<[CancelRequest & Requested]>('requestCancel');
export const requestRefundSignal = defineSignal<[RefundRequest & Requested]>('requestRefund');
export const requestReviewSignal = defineSignal<[ReviewDecision & Requested]>('requestReview');

export type RequestKind = 'capture' | 'cancel' | 'refund' | 'review';

/** What the lifecycle made of a request, at the point of the history where it arrived. */
export interface RequestOutcome {
  requestId: string;
  kind: RequestKind;
  accepted: boolean;
  /** Why it was refused (lifecycle.ts), e.g. `payment_not_capturable`. */
  code?: string;
  message?: string;
  /** The attempt this answer was given to (see Requested). */
  attemptId?: string;
}

export interface RequestAnswer {
  /** Null until the workflow has taken the request (its worker may be down, or busy with the task before). */
  outcome: RequestOutcome | null;
  state: PaymentState;
}

export const paymentStateQuery = defineQuery<PaymentState>('paymentState');
export const requestAnswerQuery = defineQuery<RequestAnswer, [string]>('requestAnswer');

// ---- the first release's updates --------------------------------------------------------------
// Kept, with their behaviour, so that payments started by it (and their histories) still replay
// and still take the requests its API sends during a deploy. The API no longer sends them.

/** Resolves once the authorization decision is known (or the payment waits for review). */
export const authorizationDecidedUpdate = defineUpdate<PaymentState>('authorizationDecided');
export const captureUpdate = defineUpdate<PaymentState, [CaptureRequest]>('capture');
export const cancelUpdate = defineUpdate<PaymentState, [CancelRequest]>('cancel');
export const refundUpdate = defineUpdate<PaymentState, [RefundRequest]>('refund');
export const reviewUpdate = defineUpdate<PaymentState, [ReviewDecision]>('review');
