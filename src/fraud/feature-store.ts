import type { Db } from '../storage/db';
import { DAY_MS, RETENTION_DAYS, emptyState, type EntityState } from './features';

/** The model's answer for one payment, as stored: what a retried check returns and a report needs. */
export interface ScoreRecord {
  paymentId: string;
  /** The fraud worker's internal card key (src/fraud/card-key.ts), never shown to a merchant. */
  cardKey: string;
  merchantId: string;
  amount: number;
  currency: string;
  /** Epoch ms: the payment's time for the features. */
  scoredAt: number;
  score: number;
  modelVersion: string;
  features: number[];
  explanations: FraudExplanation[];
}

/** One feature that pushed the score, in words for the operator deciding a review. */
export interface FraudExplanation {
  /** The feature's name (src/fraud/features.ts), stable for dashboards. */
  code: string;
  detail: string;
  /** How far it moved the score, in log-odds. */
  contribution: number;
}

export interface ReportRecord {
  paymentId: string;
  reason?: string;
  reportedBy: string;
  /** Epoch ms. */
  reportedAt: number;
}

/** Namespaces the feature-state locks away from the fingerprint and migration locks. */
const ENTITY_LOCK_CLASS = 7_302;

/** The advisory locks of these entities' states, in the deadlock-free order (sorted, once each). */
export function entityLocks(entities: string[]): { lockClass: number; key: string }[] {
  return [...new Set(entities)].sort().map((key) => ({ lockClass: ENTITY_LOCK_CLASS, key }));
}

export const cardEntity = (cardKey: string) => `card:${cardKey}`;
export const merchantEntity = (merchantId: string) => `merchant:${merchantId}`;

/**
 * The feature store (migration 004) through the `Db` interface, on SQLite or PostgreSQL: the per-card
 * and per-merchant states the features are read from and written back to on every check, the scores
 * and the fraud reports. Bind it to a transaction (FraudStore.withTransaction) for a check.
 */
export class FeatureStore {
  constructor(private readonly db: Db) {}

  /**
   * Serialises read-modify-write of these states until the transaction ends (PostgreSQL; SQLite's
   * write transactions are exclusive already). Keys are locked in sorted order: no deadlock.
   */
  async lockEntities(entities: string[]): Promise<void> {
    if (this.db.dialect !== 'postgres') return;
    const locks = entityLocks(entities);
    await this.db.query(
      `SELECT ${locks.map((_, i) => `pg_advisory_xact_lock($${2 * i + 1}, hashtext($${2 * i + 2}))`).join(', ')}`,
      locks.flatMap((l) => [l.lockClass, l.key]),
    );
  }

  /** The states of these entities; an entity never seen has an empty state. */
  async loadStates(entities: string[]): Promise<Map<string, EntityState>> {
    const placeholders = entities.map((_, i) => `$${i + 1}`).join(', ');
    const rows = await this.db.query<{ entity: string; state: string }>(
      `SELECT entity, state FROM fraud_feature_states WHERE entity IN (${placeholders})`,
      entities,
    );
    return statesOf(entities, rows);
  }

  async saveState(entity: string, state: EntityState, at: number): Promise<void> {
    await this.saveStates([[entity, state]], at);
  }

  /** Writes these states back in one statement (distinct entities). */
  async saveStates(states: [entity: string, state: EntityState][], at: number): Promise<void> {
    const { sql, params } = saveStatesStatement(states, at);
    await this.db.execute(sql, params);
  }

  /** Deletes states untouched for longer than any window reaches (bounded storage); returns how many. */
  async pruneStates(now: number): Promise<number> {
    return this.db.execute('DELETE FROM fraud_feature_states WHERE updated_at < $1', [now - (RETENTION_DAYS + 1) * DAY_MS]);
  }

  async recordScore(record: ScoreRecord): Promise<void> {
    const { sql, params } = recordScoreStatement(record);
    await this.db.execute(sql, params);
  }

  async findScore(paymentId: string): Promise<ScoreRecord | undefined> {
    const [row] = await this.db.query<ScoreRow>(`SELECT ${SCORE_COLUMNS} FROM fraud_scores WHERE payment_id = $1`, [paymentId]);
    return row && toScore(row);
  }

  /** Scored payments in (time, id) order after the given key, for retraining on the gateway's own data. */
  async listScores(after: { at: number; paymentId: string }, limit: number): Promise<(ScoreRecord & { reportedAt?: number })[]> {
    const rows = await this.db.query<ScoreRow & { reported_at: number | null }>(
      `SELECT ${SCORE_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}, r.reported_at
       FROM fraud_scores s LEFT JOIN fraud_reports r ON r.payment_id = s.payment_id
       WHERE s.scored_at > $1 OR (s.scored_at = $1 AND s.payment_id > $2) ORDER BY s.scored_at, s.payment_id LIMIT $3`,
      [after.at, after.paymentId, limit],
    );
    return rows.map((row) => ({ ...toScore(row), ...(row.reported_at === null ? {} : { reportedAt: Number(row.reported_at) }) }));
  }

  /** Records a report once per payment; false (and nothing changed) if the payment was reported before. */
  async recordReport(report: ReportRecord): Promise<boolean> {
    const changed = await this.db.execute(
      'INSERT INTO fraud_reports (payment_id, reason, reported_by, reported_at) VALUES ($1, $2, $3, $4) ON CONFLICT (payment_id) DO NOTHING',
      [report.paymentId, report.reason ?? null, report.reportedBy, report.reportedAt],
    );
    return changed > 0;
  }

  async findReport(paymentId: string): Promise<ReportRecord | undefined> {
    const [row] = await this.db.query<{ payment_id: string; reason: string | null; reported_by: string; reported_at: number }>(
      'SELECT payment_id, reason, reported_by, reported_at FROM fraud_reports WHERE payment_id = $1',
      [paymentId],
    );
    return row && { paymentId: row.payment_id, ...(row.reason ? { reason: row.reason } : {}), reportedBy: row.reported_by, reportedAt: Number(row.reported_at) };
  }
}

const SCORE_COLUMNS = 'payment_id, card_key, merchant_id, amount, currency, scored_at, score, model_version, features, explanations';

interface ScoreRow {
  payment_id: string;
  card_key: string;
  merchant_id: string;
  amount: number;
  currency: string;
  scored_at: number;
  score: number;
  model_version: string;
  features: string;
  explanations: string;
}

function toScore(row: ScoreRow): ScoreRecord {
  return {
    paymentId: row.payment_id,
    cardKey: row.card_key,
    merchantId: row.merchant_id,
    amount: Number(row.amount),
    currency: row.currency,
    scoredAt: Number(row.scored_at),
    score: Number(row.score),
    modelVersion: row.model_version,
    features: JSON.parse(row.features) as number[],
    explanations: JSON.parse(row.explanations) as FraudExplanation[],
  };
}

/** A statement and its parameters, so that several can be sent as one (FraudStore.closeCheck). */
export interface Statement {
  sql: string;
  params: unknown[];
}

/** The states of these entities from their stored rows; an entity never seen has an empty state. */
export function statesOf(entities: string[], rows: { entity: string; state: string }[]): Map<string, EntityState> {
  const states = new Map<string, EntityState>(entities.map((e) => [e, emptyState()]));
  for (const row of rows) states.set(row.entity, { ...emptyState(), ...(JSON.parse(row.state) as Partial<EntityState>) });
  return states;
}

export function saveStatesStatement(states: [entity: string, state: EntityState][], at: number): Statement {
  return {
    sql: `INSERT INTO fraud_feature_states (entity, state, updated_at) VALUES ${states.map((_, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`).join(', ')}
       ON CONFLICT (entity) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    params: states.flatMap(([entity, state]) => [entity, JSON.stringify(state), at]),
  };
}

export function recordScoreStatement(record: ScoreRecord): Statement {
  return {
    sql: `INSERT INTO fraud_scores (payment_id, card_key, merchant_id, amount, currency, scored_at, score, model_version, features, explanations)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (payment_id) DO NOTHING`,
    params: [
      record.paymentId,
      record.cardKey,
      record.merchantId,
      record.amount,
      record.currency,
      record.scoredAt,
      record.score,
      record.modelVersion,
      JSON.stringify(record.features),
      JSON.stringify(record.explanations),
    ],
  };
}
