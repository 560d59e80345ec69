import { z } from 'zod';
import { containsPan } from '../logging/pan-mask';

/** The error code of a free-text field that holds something that looks like a card number. */
export const CARD_DATA_IN_FREE_TEXT = 'card_data_in_free_text';

/**
 * A merchant's free text (`description`, `metadata`, a refund's or cancel's `reason`): a string of
 * at most `max` characters that holds no Luhn-valid 13–19 digit run. These fields travel in
 * Temporal payloads, records and webhooks, where card data must never be (DESIGN.md §3, invariant
 * 1), and a merchant who pastes a card number into a description is more likely than one who
 * means it. Refused with a 400 whose code is `card_data_in_free_text` (src/api/validation.ts and
 * src/api/stripe/stripe-errors.ts read it from the issue's params), naming the field and never
 * echoing the value.
 */
export function freeText(max: number, min = 0): z.ZodString {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((text) => !containsPan(text), {
      message: 'looks like it holds a card number; card data is not accepted in free-text fields',
      params: { code: CARD_DATA_IN_FREE_TEXT },
    });
}

/** The API error code a zod issue asks for (a refinement's `params.code`), if any. */
export function issueCode(issue: z.core.$ZodIssue): string | undefined {
  const params = (issue as { params?: { code?: unknown } }).params;
  return issue.code === 'custom' && typeof params?.code === 'string' ? params.code : undefined;
}
