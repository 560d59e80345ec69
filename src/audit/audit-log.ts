import { createHash } from 'node:crypto';
import type { Db } from '../storage/db';

export type AuditAction =
  | 'card.seal'
  | 'card.tokenize'
  | 'card.detokenize'
  | 'cvv.retain'
  | 'cvv.purge'
  | 'cvv.expire'
  /** A CVV epoch's private key dropped: every CVV sealed to it is unrecoverable from then on (docs/vault.md). */
  | 'cvv.epoch_destroy'
  | 'key.rotate'
  | 'payment.capture'
  | 'payment.cancel'
  | 'payment.refund'
  | 'review.decision'
  | 'fraud.report'
  | 'records.purge'
  | 'reconciliation.run'
  | 'reconciliation.mismatch'
  | 'auth.failure';

export interface AuditEntry {
  /** Who acted: a service (`api`, `worker:vault`), an operator, or a merchant. */
  actor: string;
  action: AuditAction;
  merchantId?: string;
  paymentId?: string;
  /** The object acted on, by opaque reference (token, intake or CVV id): never card data. */
  subject?: string;
  outcome: 'success' | 'failure';
  details?: Record<string, string | number | boolean>;
}

export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  merchant_id: string | null;
  payment_id: string | null;
  subject: string | null;
  outcome: string;
  details: string;
  prev_hash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/** The hash that chains a row to the one before it: over every column but the hash itself. */
export function rowHash(row: Omit<AuditRow, 'hash'>): string {
  const canonical = JSON.stringify([
    row.seq,
    row.at,
    row.actor,
    row.action,
    row.merchant_id,
    row.payment_id,
    row.subject,
    row.outcome,
    row.details,
    row.prev_hash,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * The append-only, hash-chained audit log (DESIGN.md §3, invariant 7). Appends are serialised
 * (an advisory lock on PostgreSQL, the write lock on SQLite) so the chain never forks.
 */
export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async append(entry: AuditEntry, tx?: Db): Promise<void> {
    const write = async (db: Db) => {
      if (db.dialect === 'postgres') await db.query('SELECT pg_advisory_xact_lock(8127364502)');
      const [last] = await db.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      const row: Omit<AuditRow, 'hash'> = {
        seq: (last?.seq ?? 0) + 1,
        at: this.now(),
        actor: entry.actor,
        action: entry.action,
        merchant_id: entry.merchantId ?? null,
        payment_id: entry.paymentId ?? null,
        subject: entry.subject ?? null,
        outcome: entry.outcome,
        details: JSON.stringify(entry.details ?? {}),
        prev_hash: last?.hash ?? GENESIS_HASH,
      };
      await db.execute(
        `INSERT INTO audit_log (seq, at, actor, action, merchant_id, payment_id, subject, outcome, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [row.seq, row.at, row.actor, row.action, row.merchant_id, row.payment_id, row.subject, row.outcome, row.details, row.prev_hash, rowHash(row)],
      );
    };
    return tx ? write(tx) : this.db.transaction(write);
  }

  /** Walks the chain from the start; names the first row whose hash or link does not match. */
  async verify(): Promise<{ ok: true; rows: number } | { ok: false; rows: number; brokenAt: number; reason: string }> {
    const rows = await this.db.query<AuditRow>('SELECT * FROM audit_log ORDER BY seq');
    let prev = GENESIS_HASH;
    for (const [index, row] of rows.entries()) {
      if (row.seq !== index + 1) return { ok: false, rows: rows.length, brokenAt: row.seq, reason: `expected row ${index + 1}: a row is missing` };
      if (row.prev_hash !== prev) return { ok: false, rows: rows.length, brokenAt: row.seq, reason: 'prev_hash does not match the previous row' };
      if (rowHash(row) !== row.hash) return { ok: false, rows: rows.length, brokenAt: row.seq, reason: 'the row was edited: its hash does not match its content' };
      prev = row.hash;
    }
    return { ok: true, rows: rows.length };
  }
}
