/**
 * The payment lifecycle as one explicit state machine (DESIGN.md §4, §4a): the statuses, the
 * transitions between them, and the rules that decide whether a merchant's or an operator's
 * request can still be honoured. The request handlers (signals; the first release's update
 * validators) and the workflow's main flow all go through this file, so a request accepted is
 * always one the main flow acts on.
 *
 * Pure and deterministic: imported by the workflow bundle and by the API.
 */
export const PAYMENT_STATUSES = [
  'processing',
  'requires_review',
  'requires_capture',
  'captured',
  'settled',
  'partially_refunded',
  'refunded',
  'declined',
  'canceled',
  'failed',
  'reversed',
] as const;

export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** No money moves any more, whatever anyone asks. */
export const FINAL_STATUSES: readonly PaymentStatus[] = ['declined', 'canceled', 'failed', 'reversed', 'refunded'];

/** Captured money, settled or about to be: refunds are what may still happen. */
export const REFUNDABLE_STATUSES: readonly PaymentStatus[] = ['captured', 'settled', 'partially_refunded'];

/** Where each status may go next. `processing → processing` is a review approval coming back. */
export const TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  processing: ['requires_review', 'requires_capture', 'captured', 'declined', 'canceled', 'failed'],
  requires_review: ['processing', 'declined', 'canceled'],
  requires_capture: ['captured', 'canceled', 'failed'],
  // A capture that meets a later refusal (settlement) is refunded: reversed.
  captured: ['settled', 'partially_refunded', 'refunded', 'reversed'],
  settled: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded', 'reversed'],
  refunded: [],
  declined: [],
  canceled: [],
  failed: [],
  reversed: [],
};

export function isFinal(status: PaymentStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

/** A transition the machine does not allow is a bug in the workflow: fail the workflow task loudly (it retries after a fix). */
export function assertTransition(from: PaymentStatus, to: PaymentStatus): void {
  if (!canTransition(from, to)) throw new Error(`Illegal payment transition ${from} → ${to}`);
}

/** What the main flow has reached beyond the status: the requests it has accepted and the money call under way. */
export interface LifecycleProgress {
  status: PaymentStatus;
  amountCapturable: number;
  amountCaptured: number;
  amountRefunded: number;
  /** The capture was sent (or decided): a cancel can no longer be honoured by a void. */
  captureStarted: boolean;
  captureRequested: boolean;
  cancelRequested: boolean;
  reviewDecided: boolean;
  /** A refund whose outcome is not yet known (sent, or waiting its turn). */
  refundPending: boolean;
  refundWindowClosed: boolean;
  /** The workflow is finishing: no request can be acted on any more. */
  closing: boolean;
}

export interface Refusal {
  code: string;
  message: string;
}

export function captureRefusal(p: LifecycleProgress, amount: number | undefined): Refusal | undefined {
  if (p.closing) return closed(p);
  if (p.status !== 'requires_capture' || p.captureRequested || p.cancelRequested) {
    return { code: 'payment_not_capturable', message: `A payment in status ${p.status} cannot be captured` };
  }
  if (amount !== undefined && (!Number.isInteger(amount) || amount <= 0 || amount > p.amountCapturable)) {
    return { code: 'amount_exceeds_capturable', message: `The capture amount must be between 1 and ${p.amountCapturable}` };
  }
  return undefined;
}

/**
 * A cancel is honoured before the authorization is sent (nothing moves), or by a void after it
 * (in review, awaiting capture, or once an in-flight authorization is known). Once the capture has
 * started the money is taken: the cancel is refused and the merchant refunds instead.
 */
export function cancelRefusal(p: LifecycleProgress): Refusal | undefined {
  if (p.closing) return closed(p);
  if (!['processing', 'requires_review', 'requires_capture'].includes(p.status) || p.captureStarted || p.captureRequested || p.cancelRequested) {
    const why = p.captureStarted || p.captureRequested ? 'its capture has started' : p.cancelRequested ? 'a cancel is already under way' : `it is ${p.status}`;
    return { code: 'payment_not_cancelable', message: `The payment cannot be canceled: ${why}; refund it instead once captured` };
  }
  return undefined;
}

export function reviewRefusal(p: LifecycleProgress): Refusal | undefined {
  if (p.closing) return closed(p);
  if (p.status !== 'requires_review' || p.reviewDecided || p.cancelRequested) {
    return { code: 'payment_not_in_review', message: `A payment in status ${p.status} is not waiting for a review` };
  }
  return undefined;
}

/** One refund at a time: a second payout is never started while the first one's outcome is unknown. */
export function refundRefusal(p: LifecycleProgress, amount: number | undefined): Refusal | undefined {
  // A refund asked as the window closes is told why, not just that the payment is closing.
  if (p.refundWindowClosed) return { code: 'refund_window_closed', message: 'The refund window of this payment has closed' };
  if (p.closing) return closed(p);
  if (!REFUNDABLE_STATUSES.includes(p.status)) {
    return { code: 'payment_not_refundable', message: `A payment in status ${p.status} cannot be refunded` };
  }
  if (p.refundPending) return { code: 'refund_in_progress', message: 'Another refund of this payment is in progress; retry once it is known' };
  const remaining = p.amountCaptured - p.amountRefunded;
  if (amount !== undefined && (!Number.isInteger(amount) || amount <= 0 || amount > remaining)) {
    return { code: 'amount_exceeds_refundable', message: `The refund amount must be between 1 and ${remaining}` };
  }
  if (remaining <= 0) return { code: 'amount_exceeds_refundable', message: 'Nothing is left to refund' };
  return undefined;
}

function closed(p: LifecycleProgress): Refusal {
  return { code: 'payment_closed', message: `The payment is closed (${p.status}); nothing can change it any more` };
}
