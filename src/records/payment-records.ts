import { MerchantLedger } from '../ledger/merchant-ledger';
import { emitPaymentEvents } from '../events/payment-events';
import type { Db } from '../storage/db';
import { PAYMENT_STATUSES, type PaymentStatus } from '../workflows/payment/lifecycle';
import type { PaymentState, Refund, TimelineEvent } from '../workflows/payment/state';
import type { PaymentRecordWrite, RecordWriteResult } from './record-write';

/** A payment as its record keeps it. */
export interface PaymentRecord {
  state: PaymentState;
  /** The workflow's last write landed: the record is the whole payment and nothing changes it. */
  final: boolean;
  revision: number;
}

export interface RecordFilters {
  status?: PaymentStatus;
  /** Epoch ms, inclusive. */
  createdGte?: number;
  /** Epoch ms, exclusive. */
  createdLt?: number;
  amountGte?: number;
  amountLte?: number;
  last4?: string;
}

/** Where a page ends: listings are newest first, by creation time then id. */
export interface RecordCursor {
  createdAt: number;
  paymentId: string;
}

interface PaymentRow {
  payment_id: string;
  merchant_id: string;
  created_at: number;
  revision: number;
  final: number;
  state: string;
}

interface RefundRow {
  payment_id: string;
  refund: string;
}

interface HistoryRow {
  at: number;
  event: string;
  detail: string | null;
}

/** Namespaces the per-payment advisory lock away from the others (a single bigint key). */
const RECORD_LOCK_CLASS = 7_302;

/** The status a timeline entry moved the payment to, if it was a transition (`payment.<status>`, context.ts). */
const statusOf = (event: string): PaymentStatus | null => {
  const status = /^payment\.([a-z_]+)$/.exec(event)?.[1];
  return status !== undefined && (PAYMENT_STATUSES as readonly string[]).includes(status) ? (status as PaymentStatus) : null;
};

/**
 * The payment records (migration 005) through the `Db` interface, on SQLite or PostgreSQL. They
 * hold what the workflow's state holds: the card's public metadata only, never a PAN or a CVV.
 */
export class PaymentRecords {
  constructor(
    private readonly db: Db,
    /** How long a closed payment's record is kept (RECORDS_RETENTION_DAYS). */
    private readonly retentionMs: number,
    /** Posts the money each write shows, in the write's transaction (src/ledger). */
    private readonly ledger: MerchantLedger = new MerchantLedger(),
  ) {}

  /**
   * Applies one write of the workflow, once: a write the record already reflects (a retry, or a
   * late duplicate) changes nothing, so the record never goes back.
   */
  async write(w: PaymentRecordWrite, now = Date.now()): Promise<RecordWriteResult> {
    return this.db.transaction(async (tx) => {
      if (tx.dialect === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [RECORD_LOCK_CLASS, w.payment.id]);
      const [row] = await tx.query<{ revision: number; final: number }>('SELECT revision, final FROM payment_records WHERE payment_id = $1', [w.payment.id]);
      const current = row?.revision ?? 0;
      if (row && (current > w.revision || (current === w.revision && (row.final === 1 || !w.final)))) return 'stale';
      // A delta applies on top of the record it was computed from; a full write (base 0) on anything older.
      if (w.base !== 0 && current !== w.base) return 'gap';
      const p = w.payment;
      const created = Date.parse(p.createdAt);
      const retainUntil = w.final ? now + this.retentionMs : null;
      await tx.execute(
        `INSERT INTO payment_records (payment_id, merchant_id, status, amount, currency, amount_captured, amount_refunded, card_last4, created_at, updated_at, revision, final, retain_until, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (payment_id) DO UPDATE SET status = excluded.status, amount_captured = excluded.amount_captured, amount_refunded = excluded.amount_refunded,
           updated_at = excluded.updated_at, revision = excluded.revision, final = excluded.final, retain_until = excluded.retain_until, state = excluded.state`,
        [p.id, p.merchantId, p.status, p.amount, p.currency, p.amountCaptured, p.amountRefunded, p.card.last4, created, now, w.revision, w.final ? 1 : 0, retainUntil, JSON.stringify(p)],
      );
      for (const { position, refund } of w.refunds) {
        await tx.execute(
          `INSERT INTO refund_records (payment_id, refund_id, position, amount, status, created_at, revision, refund) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (payment_id, refund_id) DO UPDATE SET status = excluded.status, revision = excluded.revision, refund = excluded.refund`,
          [p.id, refund.id, position, refund.amount, refund.status, Date.parse(refund.createdAt), w.revision, JSON.stringify(refund)],
        );
      }
      for (const [i, event] of w.events.entries()) {
        await tx.execute(
          `INSERT INTO payment_history (payment_id, seq, at, event, status, detail) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id, seq) DO NOTHING`,
          [p.id, w.eventsFrom + i, Date.parse(event.at), event.event, statusOf(event.event), event.detail ?? null],
        );
      }
      // The money the write shows, posted with it: both land, or neither.
      await this.ledger.post(tx, p, w.refunds.map((r) => r.refund), now);
      // And its events (the webhooks' outbox, src/events): they exist exactly when the transition does.
      await emitPaymentEvents(tx, p, { from: w.eventsFrom, events: w.events }, w.refunds.map((r) => r.refund), now);
      return 'applied';
    });
  }

  /** Whose payment it is and whether its record is final, in one read; undefined if there is no record. */
  async head(paymentId: string): Promise<{ merchantId: string; final: boolean; revision: number } | undefined> {
    const [row] = await this.db.query<{ merchant_id: string; final: number; revision: number }>('SELECT merchant_id, final, revision FROM payment_records WHERE payment_id = $1', [paymentId]);
    return row ? { merchantId: row.merchant_id, final: row.final === 1, revision: row.revision } : undefined;
  }

  /** The payment's record, whole (refunds and timeline), or undefined if there is none. */
  async get(paymentId: string): Promise<PaymentRecord | undefined> {
    const [row] = await this.db.query<PaymentRow>('SELECT payment_id, merchant_id, created_at, revision, final, state FROM payment_records WHERE payment_id = $1', [paymentId]);
    if (!row) return undefined;
    const [refunds, history] = await Promise.all([this.refundsOf([paymentId]), this.db.query<HistoryRow>('SELECT at, event, detail FROM payment_history WHERE payment_id = $1 ORDER BY seq', [paymentId])]);
    const timeline: TimelineEvent[] = history.map((h) => ({ at: new Date(Number(h.at)).toISOString(), event: h.event, ...(h.detail !== null ? { detail: h.detail } : {}) }));
    return { state: { ...(JSON.parse(row.state) as Omit<PaymentState, 'refunds' | 'timeline'>), refunds: refunds.get(paymentId) ?? [], timeline }, final: row.final === 1, revision: row.revision };
  }

  /**
   * One page of a merchant's payments, newest first, with their refunds (timelines are read one
   * payment at a time). `next` is where the following page starts, if there is one.
   */
  async list(merchantId: string, filters: RecordFilters, limit: number, after?: RecordCursor): Promise<{ data: PaymentState[]; next?: RecordCursor }> {
    const where = ['merchant_id = $1'];
    const params: unknown[] = [merchantId];
    const add = (clause: (n: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    if (filters.status) add((n) => `status = ${n}`, filters.status);
    if (filters.createdGte !== undefined) add((n) => `created_at >= ${n}`, filters.createdGte);
    if (filters.createdLt !== undefined) add((n) => `created_at < ${n}`, filters.createdLt);
    if (filters.amountGte !== undefined) add((n) => `amount >= ${n}`, filters.amountGte);
    if (filters.amountLte !== undefined) add((n) => `amount <= ${n}`, filters.amountLte);
    if (filters.last4) add((n) => `card_last4 = ${n}`, filters.last4);
    if (after) {
      params.push(after.createdAt, after.paymentId);
      const [c, id] = [`$${params.length - 1}`, `$${params.length}`];
      where.push(`(created_at < ${c} OR (created_at = ${c} AND payment_id < ${id}))`);
    }
    params.push(limit + 1);
    const rows = await this.db.query<PaymentRow>(
      `SELECT payment_id, merchant_id, created_at, revision, final, state FROM payment_records WHERE ${where.join(' AND ')} ORDER BY created_at DESC, payment_id DESC LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, limit);
    const refunds = await this.refundsOf(page.map((r) => r.payment_id));
    const data = page.map((r) => ({ ...(JSON.parse(r.state) as Omit<PaymentState, 'refunds' | 'timeline'>), refunds: refunds.get(r.payment_id) ?? [], timeline: [] }));
    const last = page[page.length - 1];
    return { data, ...(rows.length > limit && last ? { next: { createdAt: Number(last.created_at), paymentId: last.payment_id } } : {}) };
  }

  /**
   * Deletes the records kept past their retention; returns the payments deleted. `alongside` runs
   * in the same transaction (the audit rows of the purge): both land, or neither.
   */
  async purge(now = Date.now(), alongside?: (tx: Db, paymentIds: string[]) => Promise<void>): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const due = await tx.query<{ payment_id: string }>('SELECT payment_id FROM payment_records WHERE retain_until IS NOT NULL AND retain_until <= $1', [now]);
      for (const { payment_id: id } of due) {
        await tx.execute('DELETE FROM payment_history WHERE payment_id = $1', [id]);
        await tx.execute('DELETE FROM refund_records WHERE payment_id = $1', [id]);
        await tx.execute('DELETE FROM payment_records WHERE payment_id = $1', [id]);
      }
      const ids = due.map((d) => d.payment_id);
      if (ids.length > 0) await alongside?.(tx, ids);
      return ids;
    });
  }

  private async refundsOf(paymentIds: string[]): Promise<Map<string, Refund[]>> {
    const byPayment = new Map<string, Refund[]>();
    if (paymentIds.length === 0) return byPayment;
    const rows = await this.db.query<RefundRow>(
      `SELECT payment_id, refund FROM refund_records WHERE payment_id IN (${paymentIds.map((_, i) => `$${i + 1}`).join(', ')}) ORDER BY payment_id, position`,
      paymentIds,
    );
    for (const row of rows) byPayment.set(row.payment_id, [...(byPayment.get(row.payment_id) ?? []), JSON.parse(row.refund) as Refund]);
    return byPayment;
  }
}
