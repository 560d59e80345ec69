import type { Migration } from './migration';

/**
 * The card vault. Every encrypted column sits beside the master key reference (key_id,
 * key_version) and the wrapped data key that decrypt it, so master keys can rotate.
 * Card intakes and CVVs are short-lived; their rows expire and a sweeper destroys them.
 */
const tables = (bytes: string) => `
-- An intake holds a card from the moment the API receives it until the vault tokenizes it; then
-- its ciphertext and key are erased and only the resulting token remains, so a retried
-- tokenization finds its answer. The sweeper deletes intakes at expires_at either way.
CREATE TABLE card_intakes (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  token TEXT,
  key_id TEXT,
  key_version INTEGER,
  wrapped_key ${bytes},
  ciphertext ${bytes}
);
CREATE INDEX card_intakes_expires_at ON card_intakes (expires_at);

CREATE TABLE cards (
  token TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL UNIQUE,
  brand TEXT NOT NULL,
  bin TEXT NOT NULL,
  last4 TEXT NOT NULL,
  exp_month INTEGER NOT NULL,
  exp_year INTEGER NOT NULL,
  issuing_country TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  key_id TEXT NOT NULL,
  key_version INTEGER NOT NULL,
  wrapped_key ${bytes} NOT NULL,
  ciphertext ${bytes} NOT NULL
);

CREATE TABLE cvv_records (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  key_id TEXT NOT NULL,
  key_version INTEGER NOT NULL,
  wrapped_key ${bytes} NOT NULL,
  ciphertext ${bytes} NOT NULL
);
CREATE INDEX cvv_records_expires_at ON cvv_records (expires_at);

CREATE TABLE vault_secrets (
  name TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  key_id TEXT NOT NULL,
  key_version INTEGER NOT NULL,
  wrapped_key ${bytes} NOT NULL
);
`;

export const migration: Migration = {
  version: 1,
  name: 'vault',
  sqlite: tables('BLOB'),
  postgres: tables('BYTEA'),
};
