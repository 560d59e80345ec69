import type { Db } from '../storage/db';
import type { EntityState } from './features';
import { FeatureStore, recordScoreStatement, saveStatesStatement, statesOf, type ScoreRecord, type Statement } from './feature-store';
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

export interface RuleContext {
  blocklisted: boolean;
  recentByFingerprint: number;
  recentByMerchant: number;
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

  /** What the rules need to know about a payment, in one query: blocklisted, and the two velocity counts. */
  async ruleContext(
    input: { fingerprint: string; merchantId: string; paymentId: string },
    since: { fingerprint: number; merchant: number },
  ): Promise<RuleContext> {
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
    const { sql, params } = recordCheckStatement(record);
    return (await this.db.execute(sql, params)) > 0;
  }

  /**
   * Everything a check reads, after its locks (`lockFingerprintAnd`): the payment's previous check,
   * the rules' context (`ruleContext`) and the feature states of `entities`. Call inside
   * `withTransaction`. On PostgreSQL it is one round trip (the function of migration 012, which
   * locks before it reads); on SQLite, the statements one after the other (in-process, exclusive).
   */
  async openCheck(input: {
    fingerprint: string;
    merchantId: string;
    paymentId: string;
    since: { fingerprint: number; merchant: number };
    locks: { lockClass: number; key: string }[];
    entities: string[];
  }): Promise<{ previous?: FraudCheckRecord; context: RuleContext; states: Map<string, EntityState> }> {
    if (this.db.dialect !== 'postgres') {
      const previous = await this.findCheck(input.paymentId);
      if (previous) return { previous, context: { blocklisted: false, recentByFingerprint: 0, recentByMerchant: 0 }, states: new Map() };
      const context = await this.ruleContext(input, input.since);
      const states = input.entities.length > 0 ? await this.features.loadStates(input.entities) : new Map<string, EntityState>();
      return { context, states };
    }
    const all = [{ lockClass: FINGERPRINT_LOCK_CLASS, key: input.fingerprint }, ...input.locks];
    const [row] = await this.db.query<{
      previous: (Omit<CheckRow, 'reasons'> & { reasons: string }) | null;
      blocked: number;
      by_fingerprint: number;
      by_merchant: number;
      states: Record<string, string> | null;
    }>('SELECT * FROM fraud_check_context($1, $2, $3, $4, $5, $6, $7, $8)', [
      all.map((l) => l.lockClass),
      all.map((l) => l.key),
      input.paymentId,
      input.fingerprint,
      input.merchantId,
      input.since.fingerprint,
      input.since.merchant,
      input.entities,
    ]);
    if (!row) throw new Error('fraud_check_context returned no row');
    const context = { blocklisted: Number(row.blocked) > 0, recentByFingerprint: Number(row.by_fingerprint), recentByMerchant: Number(row.by_merchant) };
    const states = statesOf(
      input.entities,
      Object.entries(row.states ?? {}).map(([entity, state]) => ({ entity, state })),
    );
    return { ...(row.previous ? { previous: toRecord(row.previous) } : {}), context, states };
  }

  /**
   * Everything a check writes: the updated feature states and the score (when the model scored it)
   * and the check itself. On PostgreSQL one statement (data-modifying CTEs, one table each), one
   * round trip; on SQLite, one statement after the other.
   */
  async closeCheck(check: FraudCheckRecord, scored?: { states: [entity: string, state: EntityState][]; score: ScoreRecord }): Promise<void> {
    const statements: Statement[] = scored ? [saveStatesStatement(scored.states, check.at), recordScoreStatement(scored.score)] : [];
    statements.push(recordCheckStatement(check));
    if (this.db.dialect !== 'postgres') {
      for (const { sql, params } of statements) await this.db.execute(sql, params);
      return;
    }
    const params: unknown[] = [];
    const renumbered = statements.map(({ sql, params: own }) => {
      const offset = params.length;
      params.push(...own);
      return sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
    });
    const last = renumbered.pop()!;
    const ctes = renumbered.map((sql, i) => `w${i} AS (${sql})`);
    await this.db.execute(ctes.length > 0 ? `WITH ${ctes.join(', ')} ${last}` : last, params);
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

function recordCheckStatement(record: FraudCheckRecord): Statement {
  return {
    sql: `INSERT INTO fraud_checks (payment_id, fingerprint, merchant_id, amount, currency, decision, reasons, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (payment_id) DO NOTHING`,
    params: [record.paymentId, record.fingerprint, record.merchantId, record.amount, record.currency, record.decision, JSON.stringify(record.reasons), record.at],
  };
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
