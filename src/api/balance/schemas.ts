import { z } from 'zod';
import { LEDGER_TRANSACTION_TYPES } from '../../ledger/merchant-ledger';
import { paymentIdParam } from '../payments/schemas';

/** GET /v1/balance takes no parameters: any is refused, rather than silently ignored. */
export const balanceQuery = z.strictObject({});

/** GET /v1/balance_transactions: newest first, one page at a time. */
export const balanceTransactionsQuery = z.strictObject({
  type: z.enum(LEDGER_TRANSACTION_TYPES).optional(),
  payment: paymentIdParam.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(2000).regex(/^[A-Za-z0-9_-]*$/, 'cursor is the next_cursor of a previous page').optional(),
});
export type BalanceTransactionsQuery = z.infer<typeof balanceTransactionsQuery>;
