import { z } from 'zod';
import { paymentIdParam } from '../payments/schemas';
import { freeText } from '../free-text';

/** Request schemas of the operations' fraud routes: they validate at the edge and generate the OpenAPI description. */
export const fraudReportBody = z.strictObject({
  payment: paymentIdParam.meta({ description: 'The payment reported as fraud (a chargeback, a cardholder claim)' }),
  reason: freeText(500, 1).optional().meta({ description: 'Free text for the record, e.g. `chargeback 10.4`' }),
});
export type FraudReportBody = z.infer<typeof fraudReportBody>;

export const reviewListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).regex(/^[A-Za-z0-9_-]*$/, 'cursor is the next_cursor of a previous page').optional(),
});
