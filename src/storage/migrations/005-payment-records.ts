import type { Migration } from './migration';

/**
 * Payment records (src/records/payment-records.ts): what the gateway keeps of every payment for
 * years, after Temporal's history is gone. Written by the records worker at every transition,
 * never by the API.
 *
 * - `payment_records`: one row per payment, its state (without refunds and timeline) as JSON, and
 *   the columns listings filter on. `revision` numbers the workflow's writes: a write only lands if
 *   it is newer, so a retried or late write never takes the row back.
 *   `final` (1) is set by the workflow's last write: from then on the row is the whole payment.
 * - `refund_records`: one row per refund, updated as its status becomes known.
 * - `payment_history`: the timeline, one row per entry, `status` set where it was a transition.
 */
const tables = `
CREATE TABLE payment_records (
  payment_id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  status TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  amount_captured BIGINT NOT NULL,
  amount_refunded BIGINT NOT NULL,
  card_last4 TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  revision INTEGER NOT NULL,
  final INTEGER NOT NULL,
  retain_until BIGINT,
  state TEXT NOT NULL
);
CREATE INDEX payment_records_merchant_created ON payment_records (merchant_id, created_at DESC, payment_id DESC);
CREATE INDEX payment_records_retain_until ON payment_records (retain_until);

CREATE TABLE refund_records (
  payment_id TEXT NOT NULL,
  refund_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  amount BIGINT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revision INTEGER NOT NULL,
  refund TEXT NOT NULL,
  PRIMARY KEY (payment_id, refund_id)
);

CREATE TABLE payment_history (
  payment_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at BIGINT NOT NULL,
  event TEXT NOT NULL,
  status TEXT,
  detail TEXT,
  PRIMARY KEY (payment_id, seq)
);
`;

export const migration: Migration = {
  version: 5,
  name: 'payment-records',
  sqlite: tables,
  postgres: tables,
};
