import { z } from 'zod';
import { ACQUIRER_STEPS } from '../../workflows/payment/state';
import { PAYMENT_STATUSES } from '../payments/schemas';

/**
 * What the API answers, as zod schemas: they exist to describe responses in the OpenAPI document
 * (requests are described by ../payments/schemas.ts, the schemas the routes validate with).
 * test/unit/openapi.test.ts keeps them honest: their types are checked against the objects the
 * code builds (paymentView, PaymentService, ErrorBody), and real views are parsed with them.
 *
 * Strict objects throughout: a field the code adds without describing it fails that test.
 */

const isoDateTime = z.iso.datetime({ offset: true });
const minorUnits = z.number().int().nonnegative().meta({ description: 'Minor units (cents for USD)', examples: [1999] });

export const errorResponse = z
  .strictObject({
    error: z.strictObject({
      type: z.enum(['invalid_request_error', 'card_error', 'authentication_error', 'not_found_error', 'conflict_error', 'api_error']),
      code: z.string().meta({ description: 'Stable, machine-readable reason, e.g. `parameter_invalid`, `payment_not_found`' }),
      message: z.string().meta({ description: 'For a person; never echoes card data' }),
      param: z.string().optional().meta({ description: 'The offending field, e.g. `card.number` or `Idempotency-Key`' }),
    }),
  })
  .meta({ description: 'The one error shape of the API' });

const refundStatus = z.enum(['pending', 'succeeded', 'failed']).meta({
  description: '`pending` while the acquirer\'s answer is not known yet: never assumed paid, never assumed not; a second refund is refused meanwhile',
});

export const refundSummary = z.strictObject({
  id: z.string(),
  amount: minorUnits,
  status: refundStatus,
  failure_reason: z.string().nullable(),
  created: isoDateTime,
});

export const payment = z
  .strictObject({
    id: z.string().meta({ examples: ['pay_0123456789abcdef01234567'] }),
    object: z.literal('payment'),
    status: z.enum(PAYMENT_STATUSES),
    amount: minorUnits,
    amount_capturable: minorUnits,
    amount_captured: minorUnits,
    amount_refunded: minorUnits,
    currency: z.string().meta({ description: 'ISO 4217, upper case', examples: ['USD'] }),
    capture_method: z.enum(['automatic', 'manual']),
    description: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    card: z
      .strictObject({
        brand: z.string(),
        last4: z.string(),
        exp_month: z.number().int().min(1).max(12),
        exp_year: z.number().int().meta({ examples: [2030] }),
        fingerprint: z.string().nullable(),
        country: z.string().nullable(),
      })
      .meta({ description: 'Public card metadata only: never the number or the CVC' }),
    decline_code: z.string().nullable(),
    failure: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
    fraud: z
      .strictObject({
        decision: z.enum(['approve', 'review', 'decline']),
        score: z.number().min(0).max(1).nullable().meta({ description: "The fraud model's probability of fraud; null when the rules decided alone" }),
        model_version: z.string().nullable().meta({ description: 'The model artifact that gave the score (models/fraud/<version>.json)' }),
        scored_at: isoDateTime.nullable().meta({ description: 'When the model read the features (the payment\'s time for `npm run fraud:score`)' }),
        reason_codes: z.array(z.string()).meta({ description: 'Rules that fired (`blocklist`, `model_score`, …) and the features that pushed the score most' }),
        reasons: z.array(z.strictObject({ rule: z.string(), detail: z.string() })),
        reviewed_by: z.string().nullable(),
      })
      .nullable(),
    refunds: z.array(refundSummary),
    awaiting_acquirer: z
      .strictObject({
        step: z.enum(ACQUIRER_STEPS),
        since: isoDateTime,
      })
      .nullable()
      .meta({ description: 'Set while the outcome of a money call is unknown and the acquirer does not answer: the payment waits, it does not guess' }),
    capture_before: isoDateTime.nullable(),
    settled_at: isoDateTime.nullable(),
    refundable_until: isoDateTime.nullable(),
    created: isoDateTime,
    timeline: z.array(z.strictObject({ at: isoDateTime, event: z.string(), detail: z.string().optional() })),
  })
  .meta({ description: 'A payment as the merchant sees it' });

/** POST /v1/payments when the authorization decision did not come within the wait: poll GET /v1/payments/{id}. */
export const processingPayment = z
  .strictObject({ id: z.string(), object: z.literal('payment'), status: z.literal('processing') })
  .meta({ description: 'Accepted; the decision is still being made' });

/** POST /v1/payments answers 202 with either: the full payment (a retry) or the stub above. */
export const acceptedPayment = z.union([payment, processingPayment]);

/** A payment in a listing: as GET /v1/payments/{id} shows it, without the timeline. */
export const paymentListItem = payment.omit({ timeline: true }).meta({ description: 'A payment as its record has it (without the timeline: GET the payment for it)' });

export const paymentList = z.strictObject({
  object: z.literal('list'),
  data: z.array(paymentListItem),
  has_more: z.boolean(),
  next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
});

export const refund = z.strictObject({
  id: z.string().meta({ examples: ['re_0123456789abcdef01234567'] }),
  object: z.literal('refund'),
  payment: z.string(),
  amount: minorUnits,
  currency: z.string(),
  status: refundStatus,
  failure_reason: z.string().nullable(),
  created: isoDateTime,
});

export const health = z.strictObject({ status: z.literal('ok') });

export const readiness = z.strictObject({
  status: z.enum(['ready', 'unavailable']),
  ready: z.boolean(),
  reason: z.string().optional().meta({ description: 'The first failing component, in words' }),
  checks: z.array(z.strictObject({ component: z.string(), ok: z.boolean(), detail: z.string() })),
});

/** Temporal's remote codec protocol: payloads with base64 metadata values and data. */
export const codecPayloads = z.object({
  payloads: z.array(
    z.object({
      metadata: z.record(z.string(), z.string().base64()).optional(),
      data: z.string().base64().optional(),
    }),
  ),
});

/**
 * Response schemas by component name: the document puts them under components.schemas and
 * refers to them, so a schema nested in another (payment in a list) is one `$ref`.
 */

const fraudExplanation = z.strictObject({
  code: z.string().meta({ description: 'The feature, e.g. `card_amount_ratio_baseline`' }),
  detail: z.string().meta({ description: 'In words, e.g. "amount is 5.2× this card\'s usual amount"' }),
  contribution: z.number().meta({ description: 'How far it moved the score, in log-odds' }),
});

export const fraudReport = z
  .strictObject({
    object: z.literal('fraud_report'),
    payment: z.string(),
    scored: z.boolean().meta({ description: "Whether the payment had been scored, so that its card's and merchant's features took the label" }),
    reason: z.string().nullable(),
    reported_by: z.string(),
    reported_at: isoDateTime,
  })
  .meta({ description: 'A fraud label; the first report of a payment stands' });

export const reviewItem = z.strictObject({
  object: z.literal('review'),
  payment: z.string(),
  merchant: z.string(),
  amount: minorUnits,
  currency: z.string(),
  created: isoDateTime,
  deadline: isoDateTime.nullable().meta({ description: 'When the payment is declined if nobody decides' }),
  fraud: z.strictObject({
    decision: z.enum(['approve', 'review', 'decline']),
    score: z.number().min(0).max(1).nullable(),
    model_version: z.string().nullable(),
    reasons: z.array(z.strictObject({ rule: z.string(), detail: z.string() })),
    explanations: z.array(fraudExplanation).meta({ description: 'The features that pushed the score most, in words (operations only)' }),
  }),
});

export const reviewList = z.strictObject({
  object: z.literal('list'),
  data: z.array(reviewItem).meta({ description: 'Oldest first' }),
  has_more: z.boolean(),
  next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
});

export const cardDataAttestation = z
  .strictObject({
    object: z.literal('card_data_attestation'),
    payment: z.string(),
    card: z.strictObject({
      intake: z.string().nullable().meta({ description: 'The sealed intake\'s opaque reference (`int_…`)' }),
      sealed_at: isoDateTime.nullable(),
      sealed_by: z.string().nullable(),
      tokenized_at: isoDateTime.nullable(),
    }),
    cvv: z.strictObject({
      ref: z.string().nullable().meta({ description: 'The CVV record\'s opaque reference (`cvv_…`)' }),
      status: z.enum(['destroyed', 'held', 'none']).meta({ description: '`none`: a stored credential, authorized without a CVV' }),
      destroyed_at: isoDateTime.nullable(),
      destroyed_how: z.enum(['after_authorization', 'at_review_end', 'ttl_expiry', 'payment_not_started', 'without_authorization']).nullable(),
      retained_until: isoDateTime.nullable().meta({ description: 'The last hold for a fraud review' }),
    }),
    authorizations: z.array(z.strictObject({ at: isoDateTime, purpose: z.string() })),
    chain: z.strictObject({
      verified: z.boolean().meta({ description: 'Every row below matches its hash and links to its neighbours in the audit chain' }),
      rows: z.array(z.number().int()),
      problem: z.string().nullable(),
    }),
    events: z.array(
      z.strictObject({ seq: z.number().int(), at: isoDateTime, action: z.string(), actor: z.string(), subject: z.string().nullable(), outcome: z.string() }),
    ),
  })
  .meta({ description: "The retention attestation of a payment's card data, read from the hash-chained audit log" });

const amountsByCurrency = z.array(z.strictObject({ currency: z.string(), amount: z.number().int() }));

export const balance = z
  .strictObject({
    object: z.literal('balance'),
    available: amountsByCurrency.meta({ description: 'Owed to the merchant for settled payments, per currency (minor units; negative when refunds of settled payments exceed it)' }),
    pending: amountsByCurrency.meta({ description: 'Owed to the merchant for captured payments not settled yet, net of fees and refunds' }),
  })
  .meta({ description: 'What the gateway owes the merchant, from the merchant ledger' });

export const balanceTransaction = z
  .strictObject({
    id: z.string().meta({ examples: ['txn_0123456789abcdef01234567'] }),
    object: z.literal('balance_transaction'),
    type: z.enum(['charge', 'refund', 'payment_reversal', 'settlement']),
    amount: z.number().int().meta({ description: 'Gross effect on the balance (negative for refunds and reversals); for a settlement, what moved from pending to available' }),
    fee: z.number().int().meta({ description: 'Our fee (MERCHANT_FEE_BPS of a charge; returned, negative, with a reversal; kept on refunds)' }),
    net: z.number().int().meta({ description: 'amount − fee' }),
    currency: z.string(),
    payment: z.string(),
    refund: z.string().nullable(),
    created: z.number().int().meta({ description: 'Unix seconds' }),
  })
  .meta({ description: 'One posting of the merchant ledger' });

export const balanceTransactionList = z.strictObject({
  object: z.literal('list'),
  data: z.array(balanceTransaction).meta({ description: 'Newest first' }),
  has_more: z.boolean(),
  next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
});

export const reconciliationReport = z
  .strictObject({
    object: z.literal('reconciliation_report'),
    date: z.string().meta({ description: 'The UTC day reconciled, YYYY-MM-DD' }),
    ran_at: z.number().int().meta({ description: 'Unix seconds of the run that wrote this report' }),
    acquirer_lines: z.number().int().meta({ description: "Lines of the acquirer's settlement report for the day" }),
    gateway_lines: z.number().int().meta({ description: 'Merchant ledger postings of the day' }),
    matched: z.number().int(),
    mismatches: z.array(
      z.strictObject({
        kind: z.enum(['missing_in_gateway', 'missing_at_acquirer', 'amount_mismatch']),
        idempotency_key: z.string().meta({ description: 'The key the movement was booked under at the acquirer: `<payment id>:<step>`' }),
        merchant: z.string(),
        payment: z.string(),
        currency: z.string(),
        acquirer_amount: z.number().int().nullable(),
        acquirer_ref: z.string().nullable(),
        gateway_amount: z.number().int().nullable(),
        balance_transaction: z.string().nullable(),
      }),
    ),
  })
  .meta({ description: "One day's reconciliation of the acquirer's settlement report with the merchant ledger" });

export const RESPONSE_SCHEMAS = {
  ReconciliationReport: reconciliationReport,
  Balance: balance,
  BalanceTransaction: balanceTransaction,
  BalanceTransactionList: balanceTransactionList,
  Error: errorResponse,
  Payment: payment,
  ProcessingPayment: processingPayment,
  AcceptedPayment: acceptedPayment,
  PaymentListItem: paymentListItem,
  PaymentList: paymentList,
  Refund: refund,
  RefundSummary: refundSummary,
  Health: health,
  Readiness: readiness,
  CodecPayloads: codecPayloads,
  FraudReport: fraudReport,
  Review: reviewItem,
  ReviewList: reviewList,
  CardDataAttestation: cardDataAttestation,
} satisfies Record<string, z.ZodType>;
