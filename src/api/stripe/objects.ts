import { paymentView, type PaymentView } from '../payments/payment-view';
import type { PaymentState } from '../../workflows/payment/state';

/**
 * Stripe's JSON objects (docs/stripe-compat.md, API version in STRIPE_API_VERSION), built from the
 * gateway's rows and payments. A PaymentIntent is a view of one gateway payment (its latest
 * attempt); a charge id is derived from the payment id, so nothing more is stored for it.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive';

export interface PaymentMethodRow {
  id: string;
  merchant_id: string;
  token: string;
  bin: string;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  fingerprint: string;
  country: string | null;
  cvv_ref: string | null;
  metadata: string;
  created_at: number | string;
}

export interface PaymentIntentRow {
  id: string;
  merchant_id: string;
  amount: number | string;
  currency: string;
  capture_method: 'automatic' | 'manual';
  payment_method: string | null;
  description: string | null;
  metadata: string;
  payment_id: string | null;
  attempts: number;
  canceled_at: number | string | null;
  cancellation_reason: string | null;
  created_at: number | string;
}

/** The payment behind an intent: its view, or only known to be running (started, not readable yet). */
export type IntentPayment = PaymentView | { id: string; object: 'payment'; status: 'processing' } | undefined;

const seconds = (ms: number | string) => Math.floor(Number(ms) / 1000);
export const chargeIdOf = (paymentId: string) => `ch_${paymentId.slice('pay_'.length)}`;

/** What Stripe's client knows about a payment method's card; the vault token is never shown. */
export function paymentMethodObject(row: PaymentMethodRow) {
  return {
    id: row.id,
    object: 'payment_method' as const,
    type: 'card' as const,
    billing_details: { address: null, email: null, name: null, phone: null },
    card: {
      brand: row.brand,
      last4: row.last4,
      exp_month: Number(row.exp_month),
      exp_year: Number(row.exp_year),
      fingerprint: row.fingerprint,
      country: row.country,
      funding: 'unknown',
      checks: { cvc_check: null, address_line1_check: null, address_postal_code_check: null },
    },
    customer: null,
    created: seconds(row.created_at),
    livemode: false,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
  };
}

export type IntentStatus = 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'processing' | 'requires_capture' | 'canceled' | 'succeeded';

/** The status table of docs/stripe-compat.md. */
export function intentStatus(row: PaymentIntentRow, payment: IntentPayment): IntentStatus {
  if (!row.payment_id || !payment) {
    if (row.payment_id) return 'processing'; // started, its first state not readable yet
    if (row.canceled_at !== null) return 'canceled';
    return row.payment_method ? 'requires_confirmation' : 'requires_payment_method';
  }
  switch (payment.status) {
    case 'processing':
    case 'requires_review':
      return 'processing';
    case 'requires_capture':
      return 'requires_capture';
    case 'captured':
    case 'settled':
    case 'partially_refunded':
    case 'refunded':
    case 'reversed':
      return 'succeeded';
    case 'canceled':
      return 'canceled';
    case 'declined':
    case 'failed':
      // The attempt failed; the intent may be confirmed again (a new payment), or canceled.
      return row.canceled_at !== null ? 'canceled' : 'requires_payment_method';
  }
}

/** A decline as Stripe codes it: fraud decisions are `fraudulent`, the acquirer's codes pass through. */
export function declineCodeOf(code: string): string {
  return code.startsWith('fraud_') ? 'fraudulent' : code;
}

/** The error of the intent's latest attempt, as Stripe's `last_payment_error` and a 402 carry it. */
export function lastPaymentError(payment: IntentPayment) {
  if (!payment || !('decline_code' in payment)) return null;
  if (payment.status === 'declined') {
    const declineCode = declineCodeOf(payment.decline_code ?? 'generic_decline');
    return { type: 'card_error' as const, code: 'card_declined', decline_code: declineCode, message: declineMessage(declineCode) };
  }
  if (payment.status === 'failed') {
    return { type: 'card_error' as const, code: 'processing_error', message: `An error occurred while processing the card (${payment.failure?.code ?? 'failed'}). Try again.` };
  }
  return null;
}

function declineMessage(code: string): string {
  switch (code) {
    case 'insufficient_funds':
      return 'Your card has insufficient funds.';
    case 'incorrect_cvc':
      return "Your card's security code is incorrect.";
    case 'expired_card':
      return 'Your card has expired.';
    case 'fraudulent':
      return 'Your card was declined.';
    default:
      return 'Your card was declined.';
  }
}

export function paymentIntentObject(row: PaymentIntentRow, payment: IntentPayment) {
  const status = intentStatus(row, payment);
  const view = payment && 'amount_captured' in payment ? payment : undefined;
  const canceledAt = row.canceled_at !== null ? seconds(row.canceled_at) : view?.status === 'canceled' ? seconds(Date.parse(view.timeline.at(-1)?.at ?? view.created)) : null;
  return {
    id: row.id,
    object: 'payment_intent' as const,
    amount: Number(row.amount),
    amount_capturable: view?.amount_capturable ?? 0,
    amount_received: view ? view.amount_captured : 0,
    capture_method: row.capture_method,
    confirmation_method: 'automatic' as const,
    client_secret: null,
    created: seconds(row.created_at),
    currency: row.currency.toLowerCase(),
    description: row.description,
    last_payment_error: status === 'requires_payment_method' ? lastPaymentError(payment) : null,
    latest_charge: row.payment_id ? chargeIdOf(row.payment_id) : null,
    livemode: false,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    next_action: null,
    payment_method: row.payment_method,
    payment_method_types: ['card'],
    status,
    canceled_at: status === 'canceled' ? canceledAt : null,
    cancellation_reason: status === 'canceled' ? (row.cancellation_reason ?? (view?.status === 'canceled' ? 'automatic' : null)) : null,
    /** The gateway payment behind the intent (not a Stripe field): the same id as on /v1/payments and in the Web UI. */
    gateway_payment: row.payment_id,
  };
}

export type PaymentIntentObject = ReturnType<typeof paymentIntentObject>;

export interface RefundExtras {
  reason: string | null;
  metadata: Record<string, string>;
}

export function refundObject(
  refund: PaymentView['refunds'][number],
  intent: { id: string; currency: string; paymentId: string },
  extras: RefundExtras,
) {
  return {
    id: refund.id,
    object: 'refund' as const,
    amount: refund.amount,
    charge: chargeIdOf(intent.paymentId),
    created: seconds(Date.parse(refund.created)),
    currency: intent.currency.toLowerCase(),
    metadata: extras.metadata,
    payment_intent: intent.id,
    reason: extras.reason,
    status: refund.status,
    failure_reason: refund.status === 'failed' ? (refund.failure_reason ?? 'unknown') : null,
  };
}

/** A Stripe list object. */
export function listObject<T>(url: string, data: T[], hasMore: boolean) {
  return { object: 'list' as const, data, has_more: hasMore, url };
}

/** Metadata keys the gateway adds to a payment made for an intent; never shown as the merchant's own. */
export const INTENT_METADATA_KEYS = ['payment_intent', 'payment_method'] as const;

/**
 * The PaymentIntent a payment shows as, from the payment alone (events are built where only the
 * payment is at hand: the records worker). A payment made for an intent carries the intent's and
 * the method's ids in its metadata; one made on /v1/payments is an intent of its own, `pay_…`.
 */
export function intentObjectOfPayment(payment: Omit<PaymentState, 'timeline' | 'refunds'>, at: number) {
  const { payment_intent: intentId, payment_method: methodId, ...metadata } = payment.metadata;
  const row: PaymentIntentRow = {
    id: intentId ?? payment.id,
    merchant_id: payment.merchantId,
    amount: payment.amount,
    currency: payment.currency,
    capture_method: payment.captureMethod,
    payment_method: methodId ?? null,
    description: payment.description ?? null,
    metadata: JSON.stringify(metadata),
    payment_id: payment.id,
    attempts: 1,
    canceled_at: payment.status === 'canceled' ? at : null,
    cancellation_reason: null,
    created_at: Date.parse(payment.createdAt),
  };
  return paymentIntentObject(row, paymentView({ ...payment, refunds: [], timeline: [] }));
}

/** The charge of a payment (Stripe's `charge.refunded` carries one). */
export function chargeObjectOfPayment(payment: Omit<PaymentState, 'timeline' | 'refunds'>) {
  return {
    id: chargeIdOf(payment.id),
    object: 'charge' as const,
    amount: payment.amount,
    amount_captured: payment.amountCaptured,
    amount_refunded: payment.amountRefunded,
    captured: payment.amountCaptured > 0,
    created: seconds(Date.parse(payment.createdAt)),
    currency: payment.currency.toLowerCase(),
    livemode: false,
    metadata: Object.fromEntries(Object.entries(payment.metadata).filter(([k]) => !(INTENT_METADATA_KEYS as readonly string[]).includes(k))),
    paid: payment.amountCaptured > 0,
    payment_intent: payment.metadata.payment_intent ?? payment.id,
    refunded: payment.amountCaptured > 0 && payment.amountRefunded >= payment.amountCaptured,
    status: 'succeeded' as const,
  };
}
