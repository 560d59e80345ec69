import { createHash } from 'node:crypto';
import { acquirerKey } from '../activities/acquirer-keys';
import type { Db } from '../storage/db';
import type { PaymentState, Refund } from '../workflows/payment/state';

/**
 * The accounts of the double-entry ledger. Debits are positive, credits negative; per merchant
 * and currency the accounts sum to zero.
 *
 * - `acquirer_receivable`: captured money the acquirer owes us and has not settled (negative once
 *   it paid a refund out of a capture it had already settled: we owe it back).
 * - `settlement_cash`: money the acquirer has settled to us.
 * - `merchant_pending`: what we owe the merchant for payments not settled yet (a credit).
 * - `merchant_available`: what we owe the merchant for settled payments (a credit).
 * - `fee_revenue`: our fees (a credit).
 */
export const LEDGER_ACCOUNTS = ['acquirer_receivable', 'settlement_cash', 'merchant_pending', 'merchant_available', 'fee_revenue'] as const;
export type LedgerAccount = (typeof LEDGER_ACCOUNTS)[number];

/** What a transaction was, as GET /v1/balance_transactions names it. */
export const LEDGER_TRANSACTION_TYPES = ['charge', 'refund', 'payment_reversal', 'settlement'] as const;
export type LedgerTransactionType = (typeof LEDGER_TRANSACTION_TYPES)[number];

export interface LedgerTransaction {
  txnId: string;
  merchantId: string;
  paymentId: string;
  refundId?: string;
  type: LedgerTransactionType;
  currency: string;
  /** Effect on the merchant's balance: gross, our fee, and net (amount − fee). A settlement moves `net` from pending to available. */
  amount: number;
  fee: number;
  net: number;
  /** The idempotency key the acquirer booked the movement under. */
  acquirerKey: string;
  /** Epoch ms. */
  createdAt: number;
}

export interface Balance {
  /** Per currency, minor units: what we owe the merchant for settled payments, and for the rest. */
  available: { currency: string; amount: number }[];
  pending: { currency: string; amount: number }[];
}

export interface TransactionCursor {
  createdAt: number;
  txnId: string;
}

interface Posting {
  sourceKey: string;
  type: LedgerTransactionType;
  refundId?: string;
  amount: number;
  fee: number;
  net: number;
  acquirerKey: string;
  legs: [LedgerAccount, number][];
}

interface TransactionRow {
  txn_id: string;
  merchant_id: string;
  payment_id: string;
  refund_id: string | null;
  type: LedgerTransactionType;
  currency: string;
  amount: number | string;
  fee: number | string;
  net: number | string;
  acquirer_key: string;
  created_at: number | string;
}

const TRANSACTION_COLUMNS = 'txn_id, merchant_id, payment_id, refund_id, type, currency, amount, fee, net, acquirer_key, created_at';

/** Ids derive from the source: the same movement has the same id wherever it is posted from. */
const txnIdOf = (sourceKey: string) => `txn_${createHash('sha256').update(sourceKey).digest('hex').slice(0, 24)}`;

export interface MerchantLedgerOptions {
  /** Our fee on each charge, in basis points of the captured amount (MERCHANT_FEE_BPS). */
  feeBps: number;
}

export const DEFAULT_FEE_BPS = 290;

/**
 * What the gateway owes each merchant, posted from the payment records: each write of a payment
 * record posts, in its own transaction, the movements it shows that are not posted yet (the
 * capture, each refund that succeeded, the settlement). Posting is keyed by movement, so a write
 * retried, or a full write after a gap, never posts twice.
 *
 * The fee is charged on the capture and kept on merchant refunds (the merchant chose to refund);
 * it is returned with a reversal, which is the gateway's compensation for a payment that could
 * not settle or was cancelled before settlement.
 */
export class MerchantLedger {
  private readonly feeBps: number;

  constructor(options: Partial<MerchantLedgerOptions> = {}) {
    this.feeBps = options.feeBps ?? DEFAULT_FEE_BPS;
    if (!Number.isInteger(this.feeBps) || this.feeBps < 0 || this.feeBps > 10_000) throw new Error(`fee of ${this.feeBps} bps is not between 0 and 10000`);
  }

  /** Our fee on a capture: the rate, rounded half up to the minor unit, never more than the amount. */
  feeOn(amount: number): number {
    return Math.min(amount, Math.floor((amount * this.feeBps + 5_000) / 10_000));
  }

  /**
   * Posts what `payment` shows and the ledger does not hold yet, inside the caller's transaction
   * `tx` (the record write). `refunds` are the refunds the write carries (those that changed).
   */
  async post(tx: Db, payment: Omit<PaymentState, 'timeline' | 'refunds'>, refunds: readonly Refund[], now: number): Promise<number> {
    const posted = new Set(
      (await tx.query<{ source_key: string }>('SELECT source_key FROM ledger_transactions WHERE payment_id = $1', [payment.id])).map((r) => r.source_key),
    );
    let count = 0;
    const put = async (p: Posting) => {
      if (posted.has(p.sourceKey)) return;
      await this.insert(tx, payment, p, now);
      posted.add(p.sourceKey);
      count++;
    };
    const settled = () => posted.has(`settlement:${payment.id}`);
    const charged = `charge:${payment.id}`;
    const fee = this.feeOn(payment.amountCaptured);

    if (payment.amountCaptured > 0) {
      const net = payment.amountCaptured - fee;
      await put({
        sourceKey: charged,
        type: 'charge',
        amount: payment.amountCaptured,
        fee,
        net,
        acquirerKey: acquirerKey(payment.id, 'capture'),
        legs: [['acquirer_receivable', payment.amountCaptured], ['merchant_pending', -net], ['fee_revenue', -fee]],
      });
    }
    for (const refund of refunds) {
      if (refund.status !== 'succeeded') continue;
      const merchantAccount: LedgerAccount = settled() ? 'merchant_available' : 'merchant_pending';
      const key = acquirerKey(payment.id, `refund:${refund.id}`);
      if (refund.id === 'reversal') {
        // The fee goes back with the money: the payment did not go through.
        const returned = posted.has(charged) ? this.feeOn(payment.amountCaptured) : 0;
        await put({
          sourceKey: `refund:${payment.id}:${refund.id}`,
          type: 'payment_reversal',
          refundId: refund.id,
          amount: -refund.amount,
          fee: -returned,
          net: -(refund.amount - returned),
          acquirerKey: key,
          legs: [[merchantAccount, refund.amount - returned], ['fee_revenue', returned], ['acquirer_receivable', -refund.amount]],
        });
      } else {
        await put({
          sourceKey: `refund:${payment.id}:${refund.id}`,
          type: 'refund',
          refundId: refund.id,
          amount: -refund.amount,
          fee: 0,
          net: -refund.amount,
          acquirerKey: key,
          legs: [[merchantAccount, refund.amount], ['acquirer_receivable', -refund.amount]],
        });
      }
    }
    if (payment.settledAt !== undefined && payment.amountCaptured > 0) {
      // The acquirer settles the capture whole (refunds are movements of their own); what the
      // payment left the merchant so far becomes available.
      const [row] = await tx.query<{ pending: number | string | null }>(
        "SELECT SUM(amount) AS pending FROM ledger_entries WHERE payment_id = $1 AND account = 'merchant_pending'",
        [payment.id],
      );
      const moved = -Number(row?.pending ?? 0);
      await put({
        sourceKey: `settlement:${payment.id}`,
        type: 'settlement',
        amount: moved,
        fee: 0,
        net: moved,
        acquirerKey: acquirerKey(payment.id, 'settle'),
        legs: [['settlement_cash', payment.amountCaptured], ['acquirer_receivable', -payment.amountCaptured], ['merchant_pending', moved], ['merchant_available', -moved]],
      });
    }
    return count;
  }

  private async insert(tx: Db, payment: Pick<PaymentState, 'id' | 'merchantId' | 'currency'>, p: Posting, now: number): Promise<void> {
    const sum = p.legs.reduce((s, [, amount]) => s + amount, 0);
    if (sum !== 0) throw new Error(`ledger transaction ${p.sourceKey} is not balanced (${sum})`);
    const txnId = txnIdOf(p.sourceKey);
    await tx.execute(
      `INSERT INTO ledger_transactions (${TRANSACTION_COLUMNS}, source_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [txnId, payment.merchantId, payment.id, p.refundId ?? null, p.type, payment.currency, p.amount, p.fee, p.net, p.acquirerKey, now, p.sourceKey],
    );
    for (const [line, [account, amount]] of p.legs.entries()) {
      if (amount === 0) continue;
      await tx.execute('INSERT INTO ledger_entries (txn_id, line, merchant_id, payment_id, account, currency, amount) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        txnId,
        line,
        payment.merchantId,
        payment.id,
        account,
        payment.currency,
        amount,
      ]);
    }
  }
}

/** Reads of the ledger (the API's, and the reconciliation's). */
export class LedgerReader {
  constructor(private readonly db: Db) {}

  async balance(merchantId: string): Promise<Balance> {
    const rows = await this.db.query<{ account: LedgerAccount; currency: string; total: number | string }>(
      `SELECT account, currency, SUM(amount) AS total FROM ledger_entries
       WHERE merchant_id = $1 AND account IN ('merchant_available', 'merchant_pending') GROUP BY account, currency ORDER BY currency`,
      [merchantId],
    );
    // Credits are negative: the merchant's side reads them as positive (and never as -0).
    const side = (account: LedgerAccount) => rows.filter((r) => r.account === account).map((r) => ({ currency: r.currency, amount: 0 - Number(r.total) || 0 }));
    return { available: side('merchant_available'), pending: side('merchant_pending') };
  }

  /** Sums per account (and currency) of one merchant, or of all when `merchantId` is undefined. */
  async accountTotals(merchantId?: string): Promise<{ account: LedgerAccount; currency: string; total: number }[]> {
    const rows = await this.db.query<{ account: LedgerAccount; currency: string; total: number | string }>(
      `SELECT account, currency, SUM(amount) AS total FROM ledger_entries ${merchantId === undefined ? '' : 'WHERE merchant_id = $1'} GROUP BY account, currency ORDER BY account, currency`,
      merchantId === undefined ? [] : [merchantId],
    );
    return rows.map((r) => ({ account: r.account, currency: r.currency, total: Number(r.total) }));
  }

  /** One page of a merchant's transactions, newest first; `next` is where the following page starts. */
  async transactions(
    merchantId: string,
    filters: { type?: LedgerTransactionType; paymentId?: string },
    limit: number,
    after?: TransactionCursor,
  ): Promise<{ data: LedgerTransaction[]; next?: TransactionCursor }> {
    const where = ['merchant_id = $1'];
    const params: unknown[] = [merchantId];
    if (filters.type) where.push(`type = $${params.push(filters.type)}`);
    if (filters.paymentId) where.push(`payment_id = $${params.push(filters.paymentId)}`);
    if (after) {
      const c = `$${params.push(after.createdAt)}`;
      const id = `$${params.push(after.txnId)}`;
      where.push(`(created_at < ${c} OR (created_at = ${c} AND txn_id < ${id}))`);
    }
    const rows = await this.db.query<TransactionRow>(
      `SELECT ${TRANSACTION_COLUMNS} FROM ledger_transactions WHERE ${where.join(' AND ')} ORDER BY created_at DESC, txn_id DESC LIMIT $${params.push(limit + 1)}`,
      params,
    );
    const data = rows.slice(0, limit).map(transactionOf);
    const last = data[data.length - 1];
    return { data, ...(rows.length > limit && last ? { next: { createdAt: last.createdAt, txnId: last.txnId } } : {}) };
  }

  /** One payment's transactions (oldest first) and its account totals. */
  async ofPayment(paymentId: string): Promise<{ transactions: LedgerTransaction[]; totals: Partial<Record<LedgerAccount, number>> }> {
    const [rows, sums] = await Promise.all([
      this.db.query<TransactionRow>(`SELECT ${TRANSACTION_COLUMNS} FROM ledger_transactions WHERE payment_id = $1 ORDER BY created_at, txn_id`, [paymentId]),
      this.db.query<{ account: LedgerAccount; total: number | string }>('SELECT account, SUM(amount) AS total FROM ledger_entries WHERE payment_id = $1 GROUP BY account', [paymentId]),
    ]);
    return { transactions: rows.map(transactionOf), totals: Object.fromEntries(sums.map((r) => [r.account, Number(r.total)])) };
  }

  /** The transactions booked at the acquirer under these keys, wherever they fell in time. */
  async byAcquirerKeys(keys: readonly string[]): Promise<LedgerTransaction[]> {
    const found: LedgerTransaction[] = [];
    // In chunks: a day's report may hold more keys than a statement takes parameters.
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const rows = await this.db.query<TransactionRow>(
        `SELECT ${TRANSACTION_COLUMNS} FROM ledger_transactions WHERE acquirer_key IN (${chunk.map((_, j) => `$${j + 1}`).join(', ')})`,
        chunk,
      );
      found.push(...rows.map(transactionOf));
    }
    return found;
  }

  /** Every transaction posted in [fromMs, toMs), for the reconciliation. */
  async postedBetween(fromMs: number, toMs: number): Promise<LedgerTransaction[]> {
    const rows = await this.db.query<TransactionRow>(
      `SELECT ${TRANSACTION_COLUMNS} FROM ledger_transactions WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, txn_id`,
      [fromMs, toMs],
    );
    return rows.map(transactionOf);
  }
}

function transactionOf(r: TransactionRow): LedgerTransaction {
  return {
    txnId: r.txn_id,
    merchantId: r.merchant_id,
    paymentId: r.payment_id,
    ...(r.refund_id !== null ? { refundId: r.refund_id } : {}),
    type: r.type,
    currency: r.currency,
    amount: Number(r.amount),
    fee: Number(r.fee),
    net: Number(r.net),
    acquirerKey: r.acquirer_key,
    createdAt: Number(r.created_at),
  };
}
