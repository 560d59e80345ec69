import type { Db } from '../storage/db';
import { FeatureStore } from './feature-store';
import type { FraudOutcome, FraudReason } from './rules';

/** One fraud check as recorded: what velocity counts, and the answer a retry gets back. */
export interface FraudCheckRecord {
  paymentId: string;
  fingerprint: string;
  merchantId: string;
  amount: number;
  currency: string;
  decision: FraudOutcome;
  reasons: FraudReason[];
  /** Epoch milliseconds. */
  at: number;
}

export interface BlocklistEntry {
  fingerprint: string;
  reason: string;
  /** Epoch milliseconds. */
  at: number;
}

interface CheckRow {
  payment_id: string;
  fingerprint: string;
  merchant_id: string;
  amount: number;
  currency: string;
  decision: FraudOutcome;
  reasons: string;
  created_at: number;
}

/** Namespaces our advisory locks away from the migration lock (a single bigint key). */
const FINGERPRINT_LOCK_CLASS = 7_301;

/**
 * The fraud tables (migration 003) through the `Db` interface, on SQLite or PostgreSQL. Stores
 * fingerprints, never card data.
 */
export class FraudStore {
  constructor(private readonly db: Db) {}

  /** The model's feature states, scores and reports, in the same database (and transaction). */
  get features(): FeatureStore {
    return new FeatureStore(this.db);
  }

  /** Runs `work` in one transaction, with a store bound to it. */
  withTransaction<T>(work: (store: FraudStore) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(new FraudStore(tx)));
  }

  /**
   * Serialises checks of one card until the transaction ends, so that concurrent payments with the
   * same card (a card-testing burst) each see the others in their velocity count. SQLite needs
   * nothing: its write transactions are exclusive already. Call inside `withTransaction`.
   */
  async lockFingerprint(fingerprint: string): Promise<void> {
    if (this.db.dialect === 'postgres') {
      await this.db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [FINGERPRINT_LOCK_CLASS, fingerprint]);
    }
  }

  /**
   * `lockFingerprint` and then the given advisory locks (keys already in a deadlock-free order: sorted),
   * in one statement, one round trip: PostgreSQL evaluates a SELECT's list left to right. SQLite
   * needs nothing.
   */
  async lockFingerprintAnd(fingerprint: string, locks: { lockClass: number; key: string }[]): Promise<void> {
    if (this.db.dialect !== 'postgres') return;
    const all = [{ lockClass: FINGERPRINT_LOCK_CLASS, key: fingerprint }, ...locks];
    await this.db.query(
      `SELECT ${all.map((_, i) => `pg_advisory_xact_lock($${2 * i + 1}, hashtext($${2 * i + 2}))`).join(', ')}`,
      all.flatMap((l) => [l.lockClass, l.key]),
    );
  }

  /** What the rules need to know about a payment, in one query: blocklisted, and the two velocity counts. */
  async ruleContext(
    input: { fingerprint: string; merchantId: string; paymentId: string },
    since: { fingerprint: number; merchant: number },
  ): Promise<{ blocklisted: boolean; recentByFingerprint: number; recentByMerchant: number }> {
    const [row] = await this.db.query<{ blocked: number | string; by_fingerprint: number | string; by_merchant: number | string }>(
      `SELECT
         (SELECT COUNT(*) FROM fraud_blocklist WHERE fingerprint = $1) AS blocked,
         (SELECT COUNT(*) FROM fraud_checks WHERE fingerprint = $1 AND created_at > $2 AND payment_id <> $3) AS by_fingerprint,
         (SELECT COUNT(*) FROM fraud_checks WHERE merchant_id = $4 AND created_at > $5 AND payment_id <> $3) AS by_merchant`,
      [input.fingerprint, since.fingerprint, input.paymentId, input.merchantId, since.merchant],
    );
    return { blocklisted: Number(row?.blocked ?? 0) > 0, recentByFingerprint: Number(row?.by_fingerprint ?? 0), recentByMerchant: Number(row?.by_merchant ?? 0) };
  }

  /** Records a check once per payment; returns false (and changes nothing) if the payment was already recorded. */
  async recordCheck(record: FraudCheckRecord): Promise<boolean> {
    const changed = await this.db.execute(
      `INSERT INTO fraud_checks (payment_id, fingerprint, merchant_id, amount, currency, decision, reasons, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (payment_id) DO NOTHING`,
      [
        record.paymentId,
        record.fingerprint,
        record.merchantId,
        record.amount,
        record.currency,
        record.decision,
        JSON.stringify(record.reasons),
        record.at,
      ],
    );
    return changed > 0;
  }

  async findCheck(paymentId: string): Promise<FraudCheckRecord | undefined> {
    const [row] = await this.db.query<CheckRow>(
      'SELECT payment_id, fingerprint, merchant_id, amount, currency, decision, reasons, created_at FROM fraud_checks WHERE payment_id = $1',
      [paymentId],
    );
    return row && toRecord(row);
  }

  /** Checks of this card recorded after `since` (epoch ms, exclusive), other than `excludePaymentId`'s. */
  async countRecentByFingerprint(fingerprint: string, since: number, excludePaymentId = ''): Promise<number> {
    return this.count('fingerprint', fingerprint, since, excludePaymentId);
  }

  /** Checks for this merchant recorded after `since` (epoch ms, exclusive), other than `excludePaymentId`'s. */
  async countRecentByMerchant(merchantId: string, since: number, excludePaymentId = ''): Promise<number> {
    return this.count('merchant_id', merchantId, since, excludePaymentId);
  }

  /** Adds a card to the blocklist; returns false if it was already there (the first reason stays). */
  async addToBlocklist(entry: BlocklistEntry): Promise<boolean> {
    const changed = await this.db.execute(
      'INSERT INTO fraud_blocklist (fingerprint, reason, created_at) VALUES ($1, $2, $3) ON CONFLICT (fingerprint) DO NOTHING',
      [entry.fingerprint, entry.reason, entry.at],
    );
    return changed > 0;
  }

  /** Removes a card from the blocklist; returns false if it was not there. */
  async removeFromBlocklist(fingerprint: string): Promise<boolean> {
    return (await this.db.execute('DELETE FROM fraud_blocklist WHERE fingerprint = $1', [fingerprint])) > 0;
  }

  async isBlocklisted(fingerprint: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM fraud_blocklist WHERE fingerprint = $1', [fingerprint])).length > 0;
  }

  async blocklistEntry(fingerprint: string): Promise<BlocklistEntry | undefined> {
    const [row] = await this.db.query<{ fingerprint: string; reason: string; created_at: number }>(
      'SELECT fingerprint, reason, created_at FROM fraud_blocklist WHERE fingerprint = $1',
      [fingerprint],
    );
    return row && { fingerprint: row.fingerprint, reason: row.reason, at: row.created_at };
  }

  private async count(column: 'fingerprint' | 'merchant_id', value: string, since: number, excludePaymentId: string): Promise<number> {
    // The column name is one of two literals, never input; the (column, created_at) indexes serve both.
    const [row] = await this.db.query<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM fraud_checks WHERE ${column} = $1 AND created_at > $2 AND payment_id <> $3`,
      [value, since, excludePaymentId],
    );
    return Number(row?.n ?? 0);
  }
}

function toRecord(row: CheckRow): FraudCheckRecord {
  return {
    paymentId: row.payment_id,
    fingerprint: row.fingerprint,
    merchantId: row.merchant_id,
    amount: Number(row.amount),
    currency: row.currency,
    decision: row.decision,
    reasons: JSON.parse(row.reasons) as FraudReason[],
    at: Number(row.created_at),
  };
}
