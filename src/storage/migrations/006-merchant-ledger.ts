import type { Migration } from './migration';

/**
 * The merchant ledger (src/ledger/merchant-ledger.ts): what the gateway owes each merchant, in
 * double entry. Posted by the records worker in the same transaction as the payment record
 * write that shows the movement, never by the API.
 *
 * - `ledger_transactions`: one row per money movement of a payment (charge, refund, reversal,
 *   settlement), unique per `source_key`, so a write applied once posts once. `amount`, `fee` and
 *   `net` are its effect on the merchant's balance, as GET /v1/balance_transactions shows it;
 *   `acquirer_key` is the idempotency key the acquirer booked it under (reconciliation matches on it).
 * - `ledger_entries`: the balanced legs of each transaction, debits positive and credits
 *   negative: the legs of one transaction, and so all of a merchant's, sum to zero.
 */
const tables = `
CREATE TABLE ledger_transactions (
  txn_id TEXT PRIMARY KEY,
  source_key TEXT NOT NULL UNIQUE,
  merchant_id TEXT NOT NULL,
  payment_id TEXT NOT NULL,
  refund_id TEXT,
  type TEXT NOT NULL,
  currency TEXT NOT NULL,
  amount BIGINT NOT NULL,
  fee BIGINT NOT NULL,
  net BIGINT NOT NULL,
  acquirer_key TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX ledger_transactions_merchant_created ON ledger_transactions (merchant_id, created_at DESC, txn_id DESC);
CREATE INDEX ledger_transactions_created ON ledger_transactions (created_at);
CREATE INDEX ledger_transactions_acquirer_key ON ledger_transactions (acquirer_key);
-- Each record write reads what its payment has posted already.
CREATE INDEX ledger_transactions_payment ON ledger_transactions (payment_id);

CREATE TABLE ledger_entries (
  txn_id TEXT NOT NULL REFERENCES ledger_transactions (txn_id),
  line INTEGER NOT NULL,
  merchant_id TEXT NOT NULL,
  payment_id TEXT NOT NULL,
  account TEXT NOT NULL,
  currency TEXT NOT NULL,
  amount BIGINT NOT NULL,
  PRIMARY KEY (txn_id, line)
);
CREATE INDEX ledger_entries_merchant_account ON ledger_entries (merchant_id, account, currency);
CREATE INDEX ledger_entries_payment ON ledger_entries (payment_id, account);
`;

export const migration: Migration = {
  version: 6,
  name: 'merchant-ledger',
  sqlite: tables,
  postgres: tables,
};
