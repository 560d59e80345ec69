import type { Migration } from './migration';

/**
 * The fraud model's memory (src/fraud/feature-store.ts):
 *
 * - `fraud_feature_states`: one bounded state per card and per merchant (src/fraud/features.ts: a
 *   bucket per day for the last 38 days, the last 24 payment times of a card), as JSON. The card's
 *   entity key is the fraud worker's internal card key (a hash of the vault's token), never anything
 *   a merchant sees. States nobody touched for the retention are deleted by `pruneStates`.
 * - `fraud_scores`: the model's answer per payment (score, model version, the features it saw), for
 *   a retried check, for fraud reports (which card and merchant, when) and for retraining.
 * - `fraud_reports`: fraud labels (chargebacks, cardholder claims), one per payment.
 */
const tables = (double: string) => `
CREATE TABLE fraud_feature_states (
  entity TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX fraud_feature_states_updated_at ON fraud_feature_states (updated_at);

CREATE TABLE fraud_scores (
  payment_id TEXT PRIMARY KEY,
  card_key TEXT NOT NULL,
  merchant_id TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  scored_at BIGINT NOT NULL,
  score ${double} NOT NULL,
  model_version TEXT NOT NULL,
  features TEXT NOT NULL,
  explanations TEXT NOT NULL
);
CREATE INDEX fraud_scores_scored_at ON fraud_scores (scored_at);

CREATE TABLE fraud_reports (
  payment_id TEXT PRIMARY KEY,
  reason TEXT,
  reported_by TEXT NOT NULL,
  reported_at BIGINT NOT NULL
);
`;

export const migration: Migration = {
  version: 4,
  name: 'fraud-features',
  sqlite: tables('REAL'),
  postgres: tables('DOUBLE PRECISION'),
};
