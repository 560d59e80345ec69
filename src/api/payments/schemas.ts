import { z } from 'zod';
import { PAYMENT_STATUSES } from '../../workflows/payment/lifecycle';
import { CARD_DATA_IN_FREE_TEXT, freeText } from '../free-text';
import { containsPan } from '../../logging/pan-mask';

/**
 * Request schemas of the payments API: they validate at the edge and (issue 5) generate the
 * OpenAPI description, so they are the one definition of what the API accepts.
 */
const amount = z.number().int('amount must be an integer in minor units').positive().max(99_999_999);
// ISO 4217 alphabetic codes the gateway settles in. Anything else is refused rather than guessed.
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD', 'CHF', 'SEK', 'NOK', 'DKK', 'PLN', 'CZK', 'NZD', 'SGD', 'HKD'] as const;

/**
 * An ISO 4217 code of CURRENCIES, in upper or lower case (Stripe's clients send lower case), as
 * an enum so that the OpenAPI document states the list; normalised to upper case.
 */
export const currencyCode = z
  .enum([...CURRENCIES, ...CURRENCIES.map((c) => c.toLowerCase())], { message: `must be one of ${CURRENCIES.join(', ')} (upper or lower case)` })
  .transform((c) => c.toUpperCase() as (typeof CURRENCIES)[number]);

/**
 * Zod's record drops a `__proto__` key without a word (its guard against prototype pollution), so
 * `{"__proto__": -1}` would be accepted and the merchant's key silently lost. It is refused here,
 * before the record sees it, naming the key.
 */
export const metadata = z.preprocess(
  (raw, ctx) => {
    if (raw !== null && typeof raw === 'object' && Object.hasOwn(raw, '__proto__')) {
      ctx.issues.push({ code: 'custom', message: 'metadata keys may not be __proto__', path: ['__proto__'], input: raw });
    }
    return raw;
  },
  z
    .record(z.string().max(40), freeText(500))
    .refine((m) => Object.keys(m).length <= 20, 'at most 20 metadata keys')
    // Keys are free text too; refused here, on the whole object, so that the error names `metadata`, not the key.
    .refine((m) => !Object.keys(m).some(containsPan), { message: 'a key looks like it holds a card number; card data is not accepted in free-text fields', params: { code: CARD_DATA_IN_FREE_TEXT } }),
);

export const createPaymentBody = z.strictObject({
  amount,
  currency: currencyCode,
  capture_method: z.enum(['automatic', 'manual']).default('automatic'),
  card: z.strictObject({
    number: z.string().max(32),
    exp_month: z.number().int(),
    exp_year: z.number().int(),
    cvc: z.string().max(8),
  }),
  description: freeText(500).optional(),
  metadata: metadata.optional(),
});
export type CreatePaymentBody = z.infer<typeof createPaymentBody>;

export const captureBody = z.strictObject({ amount: amount.optional() });
export const cancelBody = z.strictObject({ reason: freeText(200).optional() });
export const refundBody = z.strictObject({ amount: amount.optional(), reason: freeText(200).optional() });
export const reviewBody = z.strictObject({ decision: z.enum(['approve', 'reject']) });

export { PAYMENT_STATUSES };

const unixSeconds = z.coerce.number().int().min(0).max(253_402_300_799).meta({ description: 'Unix time in seconds' });
const amountBound = z.coerce.number().int().min(0).max(99_999_999);

/** GET /v1/payments: filters over the payment records (src/records), newest first. */
export const listQuery = z.strictObject({
  status: z.enum(PAYMENT_STATUSES).optional(),
  'created[gte]': unixSeconds.optional(),
  'created[lt]': unixSeconds.optional(),
  'amount[gte]': amountBound.optional(),
  'amount[lte]': amountBound.optional(),
  last4: z.string().regex(/^\d{4}$/, 'the last four digits of the card').optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(2000).regex(/^[A-Za-z0-9_-]*$/, 'cursor is the next_cursor of a previous page').optional(),
});
export type ListQuery = z.infer<typeof listQuery>;

export const paymentIdParam = z.string().regex(/^pay_[a-f0-9]{24}$/, 'not a payment id');
export const idempotencyKeyHeader = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
