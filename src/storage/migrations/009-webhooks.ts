import type { Migration } from './migration';

/**
 * Events and webhooks, Stripe-compatible (docs/stripe-compat.md, "Webhooks and events"):
 * - stripe_events: every payment's events, written in the transaction of the record write that
 *   shows the transition (an outbox: the event exists exactly when the transition does), with a
 *   stable id and a sequence per stream (a payment intent, or a payment made on /v1/payments).
 *   `dispatched` is set once the delivery workflows have the event.
 * - webhook_endpoints: a merchant's endpoints; the signing secret is kept to sign with.
 * - webhook_attempts: every delivery attempt, for the merchant to see.
 */
const tables = `
CREATE TABLE stripe_events (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  object TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  dispatched INTEGER NOT NULL,
  UNIQUE (stream, seq)
);
CREATE INDEX stripe_events_by_merchant ON stripe_events (merchant_id, created_at, id);
CREATE INDEX stripe_events_undispatched ON stripe_events (dispatched, stream);

CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  url TEXT NOT NULL,
  enabled_events TEXT NOT NULL,
  secret TEXT NOT NULL,
  status TEXT NOT NULL,
  description TEXT,
  created_at BIGINT NOT NULL,
  failing_since BIGINT,
  disabled_at BIGINT,
  deleted_at BIGINT
);
CREATE INDEX webhook_endpoints_by_merchant ON webhook_endpoints (merchant_id, created_at);

CREATE TABLE webhook_attempts (
  endpoint_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at BIGINT NOT NULL,
  http_status INTEGER,
  outcome TEXT NOT NULL,
  error TEXT,
  duration_ms INTEGER NOT NULL,
  PRIMARY KEY (endpoint_id, event_id, attempt)
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, at);
`;

export const migration: Migration = {
  version: 9,
  name: 'webhooks',
  sqlite: tables,
  postgres: tables,
};
