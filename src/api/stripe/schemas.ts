import { z } from 'zod';
import { CURRENCIES, metadata } from '../payments/schemas';
import { freeText } from '../free-text';

/**
 * The Stripe-compatible routes' parameters (docs/stripe-compat.md). Stripe's API is form-encoded:
 * every value arrives as a string (`amount=2000`, `confirm=true`, `metadata[order]=7`,
 * `expand[0]=latest_charge`), so numbers and booleans are parsed from their text here. Unknown
 * parameters are refused by name, as Stripe does.
 */
const integer = (max: number) =>
  z.union([z.number(), z.string().regex(/^\d{1,15}$/, 'must be an integer')]).transform(Number).pipe(z.number().int().min(0).max(max));
const positiveAmount = integer(99_999_999).refine((n) => n > 0, 'must be a positive integer in the smallest currency unit');
const bool = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => v === true || v === 'true');
const text = (max: number) => z.string().max(max);
const currency = z
  .string()
  .transform((c) => c.toUpperCase())
  .pipe(z.enum(CURRENCIES, { message: `must be one of ${CURRENCIES.map((c) => c.toLowerCase()).join(', ')}` }));
/** `expand[]=a` / `expand[0]=a` (an array) or `expand=a`. Expansion is accepted; see the docs for what it expands. */
const expand = z.union([z.array(text(100)).max(20), text(100).transform((s) => [s])]).optional();
/** Stripe unsets all metadata with `metadata=` (empty) and one key with `metadata[key]=`. */
const metadataParam = z.union([z.literal('').transform(() => ({})), metadata]);

export const paymentMethodIdParam = z.string().regex(/^pm_[A-Za-z0-9]{24}$/, 'not a payment method id');
export const paymentIntentIdParam = z.string().regex(/^pi_[A-Za-z0-9]{24}$/, 'not a payment intent id');
export const refundIdParam = z.string().regex(/^re_[A-Za-z0-9]{24}$/, 'not a refund id');

export const createPaymentMethodParams = z.strictObject({
  type: z.literal('card'),
  card: z.strictObject({
    number: text(32),
    exp_month: integer(99),
    exp_year: integer(9999),
    cvc: text(8),
  }),
  metadata: metadataParam.optional(),
  expand,
});

export const retrieveParams = z.strictObject({ expand });

export const createPaymentIntentParams = z.strictObject({
  amount: positiveAmount,
  currency,
  payment_method: paymentMethodIdParam.optional(),
  confirm: bool.optional(),
  capture_method: z.enum(['automatic', 'manual', 'automatic_async']).transform((m) => (m === 'manual' ? 'manual' : 'automatic')).optional(),
  metadata: metadataParam.optional(),
  description: freeText(500).optional(),
  payment_method_types: z.union([z.array(z.literal('card')).max(1), z.literal('card').transform(() => ['card'])]).optional(),
  expand,
});
export type CreatePaymentIntentParams = z.output<typeof createPaymentIntentParams>;

export const updatePaymentIntentParams = z.strictObject({
  amount: positiveAmount.optional(),
  payment_method: paymentMethodIdParam.optional(),
  metadata: metadataParam.optional(),
  description: freeText(500).optional(),
  expand,
});
export type UpdatePaymentIntentParams = z.output<typeof updatePaymentIntentParams>;

export const confirmPaymentIntentParams = z.strictObject({ payment_method: paymentMethodIdParam.optional(), expand });
export const capturePaymentIntentParams = z.strictObject({ amount_to_capture: positiveAmount.optional(), expand });
export const cancelPaymentIntentParams = z.strictObject({
  cancellation_reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']).optional(),
  expand,
});

const unixSeconds = integer(253_402_300_799);
const listBase = {
  limit: integer(100).refine((n) => n >= 1, 'must be between 1 and 100').default(10),
  starting_after: text(64).optional(),
  ending_before: text(64).optional(),
  expand,
};

export const listPaymentIntentsParams = z.strictObject({
  ...listBase,
  created: z.union([unixSeconds, z.strictObject({ gt: unixSeconds.optional(), gte: unixSeconds.optional(), lt: unixSeconds.optional(), lte: unixSeconds.optional() })]).optional(),
});
export type ListPaymentIntentsParams = z.output<typeof listPaymentIntentsParams>;

export const createRefundParams = z.strictObject({
  payment_intent: paymentIntentIdParam,
  amount: positiveAmount.optional(),
  reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
  metadata: metadataParam.optional(),
  expand,
});
export type CreateRefundParams = z.output<typeof createRefundParams>;

export const listRefundsParams = z.strictObject({ ...listBase, payment_intent: paymentIntentIdParam.optional() });

export const webhookEndpointIdParam = z.string().regex(/^we_[a-f0-9]{24}$/, 'not a webhook endpoint id');
export const eventIdParam = z.string().regex(/^evt_[a-f0-9]{24}$/, 'not an event id');

export const createWebhookEndpointParams = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048),
  enabled_events: z.union([z.array(text(100)).min(1).max(20), text(100).transform((s) => [s])]),
  description: freeText(500).optional(),
  /** Accepted and ignored: events are built in the one version docs/stripe-compat.md names. */
  api_version: text(40).optional(),
  expand,
});

export const listWebhookEndpointsParams = z.strictObject({ ...listBase });
export const listAttemptsParams = z.strictObject({ limit: listBase.limit });
export const listEventsParams = z.strictObject({ ...listBase, type: text(100).optional() });
