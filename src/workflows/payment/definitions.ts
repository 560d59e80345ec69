import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { PaymentState } from './state';

/**
 * The payment workflow's interface (DESIGN.md §4): updates for every action a merchant or an
 * operator takes, and one query for the payment as the API shows it. Shared by the workflow and
 * the API; nothing here may import Node modules.
 */

/** Resolves once the authorization decision is known (or the payment waits for review). Used with update-with-start. */
export const authorizationDecidedUpdate = defineUpdate<PaymentState>('authorizationDecided');

export interface CaptureRequest {
  /** Minor units, at most the authorized amount; the whole authorization when absent. */
  amount?: number;
}
export const captureUpdate = defineUpdate<PaymentState, [CaptureRequest]>('capture');

export const cancelUpdate = defineUpdate<PaymentState, [{ reason?: string }]>('cancel');

export interface RefundRequest {
  /** Stable per refund request (the API derives it from the request's idempotency key). */
  refundId: string;
  /** Minor units, at most captured minus refunded; the remainder when absent. */
  amount?: number;
  reason?: string;
}
export const refundUpdate = defineUpdate<PaymentState, [RefundRequest]>('refund');

export interface ReviewDecision {
  decision: 'approve' | 'reject';
  /** The operator who decided, for the timeline and the audit trail. */
  actor: string;
}
export const reviewUpdate = defineUpdate<PaymentState, [ReviewDecision]>('review');

export const paymentStateQuery = defineQuery<PaymentState>('paymentState');
