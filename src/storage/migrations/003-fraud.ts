import type { Migration } from './migration';

/**
 * The fraud rules engine's memory (src/fraud): one row per payment checked, for velocity over a
 * window, and the blocklist of card fingerprints. Only fingerprints (keyed HMACs) are stored, never
 * card data. A check is keyed by its payment, so an activity retried after a crash finds its first
 * answer instead of counting the payment twice; `reasons` keeps that answer (JSON) for the retry
 * and for the operator reviewing it.
 */
const tables = `
CREATE TABLE fraud_checks (
  payment_id TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  merchant_id TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('approve', 'review', 'decline')),
  reasons TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX fraud_checks_fingerprint_created_at ON fraud_checks (fingerprint, created_at);
CREATE INDEX fraud_checks_merchant_created_at ON fraud_checks (merchant_id, created_at);

CREATE TABLE fraud_blocklist (
  fingerprint TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
`;

export const migration: Migration = {
  version: 3,
  name: 'fraud',
  sqlite: tables,
  postgres: tables,
};
