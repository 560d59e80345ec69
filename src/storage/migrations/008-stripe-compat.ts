import type { Migration } from './migration';

/**
 * The Stripe-compatible surface (docs/stripe-compat.md):
 * - api_keys: merchants' secret and restricted keys, stored as SHA-256 hashes only (a key is 190
 *   random bits: a fast hash is the right one, as for GitHub's tokens; a slow KDF would only slow
 *   every request). The last four characters are kept to tell keys apart in a listing.
 * - payment_methods: a `pm_…` is a vault token plus the card's public metadata. `cvv_ref` is the
 *   sealed CVC while its TTL lasts and no payment has used it; after that the method is a stored card.
 * - payment_intents: a `pi_…` before it is confirmed has no payment; once confirmed it points at
 *   the gateway payment (one workflow) of its latest attempt.
 * - stripe_idempotency: the first answer (status and body) to an Idempotency-Key, replayed for 24 h.
 * - stripe_refunds: which payment intent a `re_…` belongs to, and its Stripe-only fields.
 */
const tables = `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  last4 TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX api_keys_by_merchant ON api_keys (merchant_id, created_at);

CREATE TABLE payment_methods (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  token TEXT NOT NULL,
  bin TEXT NOT NULL,
  brand TEXT NOT NULL,
  last4 TEXT NOT NULL,
  exp_month INTEGER NOT NULL,
  exp_year INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  country TEXT,
  cvv_ref TEXT,
  metadata TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE payment_intents (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  capture_method TEXT NOT NULL,
  payment_method TEXT,
  description TEXT,
  metadata TEXT NOT NULL,
  payment_id TEXT,
  attempts INTEGER NOT NULL,
  canceled_at BIGINT,
  cancellation_reason TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX payment_intents_by_merchant ON payment_intents (merchant_id, created_at, id);
CREATE INDEX payment_intents_by_payment ON payment_intents (payment_id);

CREATE TABLE stripe_idempotency (
  merchant_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER,
  body TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, idempotency_key)
);

CREATE TABLE stripe_refunds (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  payment_intent TEXT NOT NULL,
  reason TEXT,
  metadata TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX stripe_refunds_by_intent ON stripe_refunds (payment_intent, created_at);
`;

export const migration: Migration = {
  version: 8,
  name: 'stripe-compat',
  sqlite: tables,
  postgres: tables,
};
