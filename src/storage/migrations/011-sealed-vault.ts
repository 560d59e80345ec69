import type { Migration } from './migration';

/**
 * Sealing the API cannot open, and CVV crypto-shredding (docs/vault.md, issue 10 items 1–2):
 * - vault_public_keys: public keys the vault publishes for the API to seal to (the intake key).
 *   Public data; the private halves never reach the database in a form the API could open.
 * - cvv_epochs: the short-lived CVV epoch keys, one row per epoch, public half only. The private
 *   half lives in the memory of the vault worker that made it (`owner`) and is dropped once the
 *   epoch's CVVs are gone (`destroyed_at`). The API seals to epochs whose `seal_until` and
 *   `live_until` (the owner's heartbeat) are both ahead.
 * - cvv_seals: a CVV sealed to one epoch (one row per live vault worker at sealing time), so any
 *   vault worker alive when the card arrived can authorize it.
 */
const tables = (bytes: string) => `
CREATE TABLE vault_public_keys (
  name TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  public_key ${bytes} NOT NULL
);

CREATE TABLE cvv_epochs (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  public_key ${bytes} NOT NULL,
  created_at BIGINT NOT NULL,
  seal_until BIGINT NOT NULL,
  live_until BIGINT NOT NULL,
  destroyed_at BIGINT
);
CREATE INDEX cvv_epochs_sealable ON cvv_epochs (seal_until, live_until);

CREATE TABLE cvv_seals (
  cvv_id TEXT NOT NULL,
  epoch_id TEXT NOT NULL,
  enc ${bytes} NOT NULL,
  ciphertext ${bytes} NOT NULL,
  PRIMARY KEY (cvv_id, epoch_id)
);
CREATE INDEX cvv_seals_by_epoch ON cvv_seals (epoch_id);
`;

export const migration: Migration = {
  version: 11,
  name: 'sealed-vault',
  sqlite: tables('BLOB'),
  postgres: tables('BYTEA'),
};
