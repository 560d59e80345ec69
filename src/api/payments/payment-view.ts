import { merchantFacingReasons } from '../../fraud/merchant-reasons';
import type { PaymentState } from '../../workflows/payment/state';

/**
 * A payment as merchants see it: snake_case, amounts in minor units, the card's public metadata.
 * Never the PAN or CVV: the workflow never had them.
 */
export function paymentView(state: PaymentState) {
  return {
    id: state.id,
    object: 'payment',
    status: state.status,
    amount: state.amount,
    amount_capturable: state.amountCapturable,
    amount_captured: state.amountCaptured,
    amount_refunded: state.amountRefunded,
    currency: state.currency,
    capture_method: state.captureMethod,
    description: state.description ?? null,
    metadata: state.metadata,
    card: {
      brand: state.card.brand,
      last4: state.card.last4,
      exp_month: state.card.expMonth,
      exp_year: state.card.expYear,
      fingerprint: state.card.fingerprint ?? null,
      country: state.card.issuingCountry ?? null,
    },
    decline_code: state.declineCode ?? null,
    failure: state.failure ?? null,
    fraud: state.fraud
      ? {
          decision: state.fraud.decision,
          // The model's probability of fraud and the artifact that gave it (null: the rules decided alone).
          score: state.fraud.score ?? null,
          model_version: state.fraud.modelVersion ?? null,
          // The time the model read the features at (the payment's time for the replay, `npm run fraud:score`).
          scored_at: state.fraud.scoredAt !== undefined ? new Date(state.fraud.scoredAt).toISOString() : null, // epoch ms in payments checked before it was ISO
          // Codes only: the words behind the model's (a card's history across merchants) are for operations (GET /v1/reviews).
          reason_codes: [...state.fraud.reasons.map((r) => r.rule), ...(state.fraud.explanations ?? []).map((e) => e.code)],
          // Without the card-wide figures operations see (its use at other merchants): src/fraud/merchant-reasons.ts.
          reasons: merchantFacingReasons(state.fraud.reasons),
          reviewed_by: state.fraud.reviewedBy ?? null,
        }
      : null,
    refunds: state.refunds.map((r) => ({
      id: r.id,
      amount: r.amount,
      status: r.status,
      failure_reason: r.failureReason ?? null,
      created: r.createdAt,
    })),
    awaiting_acquirer: state.awaitingAcquirer ?? null,
    capture_before: state.captureBefore ?? null,
    settled_at: state.settledAt ?? null,
    refundable_until: state.refundableUntil ?? null,
    created: state.createdAt,
    timeline: state.timeline,
  };
}

export type PaymentView = ReturnType<typeof paymentView>;
