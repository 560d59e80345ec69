import type { LedgerReader, LedgerTransaction, TransactionCursor } from '../../ledger/merchant-ledger';
import { ApiError } from '../errors';
import type { BalanceTransactionsQuery } from './schemas';

/**
 * GET /v1/balance and /v1/balance_transactions: what the gateway owes the merchant, read from the
 * merchant ledger (src/ledger), which the records worker posts. The API never writes it.
 */
export class BalanceService {
  constructor(private readonly ledger: LedgerReader) {}

  async balance(merchantId: string) {
    const { available, pending } = await this.ledger.balance(merchantId);
    return { object: 'balance' as const, available, pending };
  }

  async transactions(merchantId: string, query: BalanceTransactionsQuery) {
    const filters = { ...(query.type ? { type: query.type } : {}), ...(query.payment ? { paymentId: query.payment } : {}) };
    const bound = JSON.stringify([merchantId, filters.type ?? null, filters.paymentId ?? null]);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, bound);
    const page = await this.ledger.transactions(merchantId, filters, query.limit, after);
    return {
      object: 'list' as const,
      data: page.data.map(balanceTransactionView),
      has_more: page.next !== undefined,
      next_cursor: page.next ? Buffer.from(JSON.stringify({ b: bound, c: page.next.createdAt, i: page.next.txnId })).toString('base64url') : null,
    };
  }
}

export function balanceTransactionView(t: LedgerTransaction) {
  return {
    id: t.txnId,
    object: 'balance_transaction' as const,
    type: t.type,
    amount: t.amount,
    fee: t.fee,
    net: t.net,
    currency: t.currency,
    payment: t.paymentId,
    refund: t.refundId ?? null,
    created: Math.floor(t.createdAt / 1000),
  };
}

/** A cursor is bound to the merchant and the filters it was made for: another listing refuses it. */
function decodeCursor(cursor: string, bound: string): TransactionCursor {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { b?: unknown; c?: unknown; i?: unknown };
    if (parsed.b === bound && Number.isSafeInteger(parsed.c) && typeof parsed.i === 'string' && /^txn_[a-f0-9]{24}$/.test(parsed.i)) {
      return { createdAt: parsed.c as number, txnId: parsed.i };
    }
  } catch {
    // falls through to the refusal
  }
  throw new ApiError(400, 'invalid_request_error', 'invalid_cursor', 'cursor must be the next_cursor of a previous page of this listing', 'cursor');
}
