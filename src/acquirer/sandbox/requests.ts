import { z } from 'zod';
import { luhnValid } from '../../vault/card-validation';
import { SandboxError } from './errors';

/**
 * The request bodies of the sandbox's money calls, validated at the edge. Validation messages
 * are fixed strings: zod's defaults describe the expected type, never the value received.
 */

const amount = z.number().int('must be a whole number of minor units').positive('must be positive').max(Number.MAX_SAFE_INTEGER);

export const authorizationRequestSchema = z.object({
  pan: z
    .string()
    .regex(/^\d{12,19}$/, 'must be 12 to 19 digits')
    .refine(luhnValid, 'is not a valid card number (Luhn check failed)'),
  exp_month: z.number().int().min(1).max(12),
  exp_year: z.number().int().min(2000).max(2199),
  /** Absent for a stored credential (a card on file): approved without a CVC check, as acquirers do for merchant-initiated payments. */
  cvc: z.string().regex(/^\d{3,4}$/, 'must be 3 or 4 digits').optional(),
  amount,
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code in upper case, e.g. USD'),
  merchant_id: z.string().min(1).max(128),
  /**
   * A sale: capture the whole amount in the same call, the capture booked under this idempotency
   * key (the key a separate capture would have been sent with), so inquiries, reports and the
   * gateway's books see one capture whichever way it was made. Absent: authorize only.
   */
  capture_idempotency_key: z.string().min(1).max(255).optional(),
});
export type AuthorizationBody = z.infer<typeof authorizationRequestSchema>;

export const amountRequestSchema = z.object({ amount });
export type AmountBody = z.infer<typeof amountRequestSchema>;

export const reversalRequestSchema = z.object({
  /** The idempotency key the authorization was (or would have been) sent with. */
  authorization_idempotency_key: z.string().min(1).max(255),
});

/** Void and settle take no body; whatever is sent is ignored. */
export const emptyRequestSchema = z.unknown().transform(() => ({}));

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = issue.path.join('.');
  throw new SandboxError(400, 'invalid_request', param ? `${param}: ${issue.message}` : issue.message, param || undefined);
}

export function idempotencyKeyOf(header: string | undefined): string {
  const key = header?.trim();
  if (!key) throw new SandboxError(400, 'idempotency_key_missing', `Every POST needs an ${IDEMPOTENCY_KEY_HEADER} header`);
  if (key.length > 255) throw new SandboxError(400, 'invalid_request', `The ${IDEMPOTENCY_KEY_HEADER} header must be at most 255 characters`);
  return key;
}
