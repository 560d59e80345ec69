import type { Env } from '../../config/env';
import type { PaymentPolicy } from '../../workflows/payment/state';

const HOUR = 60 * 60 * 1000;

/** The lifecycle timers, and whether automatic capture is a sale, a new payment is started with (each payment keeps the policy it began under). */
export function paymentPolicy(env: Env): PaymentPolicy {
  return {
    authorizationExpiryMs: env.AUTHORIZATION_EXPIRY_HOURS * HOUR,
    reviewDeadlineMs: env.FRAUD_REVIEW_DEADLINE_HOURS * HOUR,
    settlementCutoffUtc: env.SETTLEMENT_CUTOFF_UTC,
    refundWindowMs: env.REFUND_WINDOW_DAYS * 24 * HOUR,
    automaticCaptureAsSale: env.ACQUIRER_SALE,
  };
}
