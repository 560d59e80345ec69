import { randomBytes } from 'node:crypto';
import type { Db } from '../storage/db';

/** An endpoint failing without a single delivery for this long is disabled (Svix's rule). */
export const DISABLE_AFTER_MS = 5 * 24 * 3600_000;

export interface WebhookEndpointRow {
  id: string;
  merchant_id: string;
  url: string;
  enabled_events: string;
  secret: string;
  status: 'enabled' | 'disabled';
  description: string | null;
  created_at: number | string;
  failing_since: number | string | null;
  disabled_at: number | string | null;
  deleted_at: number | string | null;
}

export interface WebhookAttemptRow {
  endpoint_id: string;
  event_id: string;
  attempt: number;
  at: number | string;
  http_status: number | null;
  outcome: string;
  error: string | null;
  duration_ms: number;
}

/** The merchant's webhook endpoints and their delivery bookkeeping (docs/stripe-compat.md). */
export class WebhookEndpoints {
  constructor(private readonly db: Db) {}

  async create(merchantId: string, params: { url: string; enabledEvents: string[]; description?: string }): Promise<WebhookEndpointRow> {
    const row: WebhookEndpointRow = {
      id: `we_${randomBytes(12).toString('hex')}`,
      merchant_id: merchantId,
      url: params.url,
      enabled_events: JSON.stringify(params.enabledEvents),
      secret: `whsec_${randomBytes(24).toString('base64url')}`,
      status: 'enabled',
      description: params.description ?? null,
      created_at: Date.now(),
      failing_since: null,
      disabled_at: null,
      deleted_at: null,
    };
    await this.db.execute(
      'INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, secret, status, description, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [row.id, merchantId, row.url, row.enabled_events, row.secret, row.status, row.description, row.created_at],
    );
    return row;
  }

  async get(id: string): Promise<WebhookEndpointRow | undefined> {
    const [row] = await this.db.query<WebhookEndpointRow>('SELECT * FROM webhook_endpoints WHERE id = $1 AND deleted_at IS NULL', [id]);
    return row;
  }

  async list(merchantId: string): Promise<WebhookEndpointRow[]> {
    return this.db.query<WebhookEndpointRow>('SELECT * FROM webhook_endpoints WHERE merchant_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC', [merchantId]);
  }

  async delete(id: string): Promise<void> {
    await this.db.execute('UPDATE webhook_endpoints SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL', [Date.now(), id]);
  }

  /** The merchant's enabled endpoints: `listens` says which of them an event goes to. */
  async enabled(merchantId: string): Promise<WebhookEndpointRow[]> {
    return this.db.query<WebhookEndpointRow>("SELECT * FROM webhook_endpoints WHERE merchant_id = $1 AND status = 'enabled' AND deleted_at IS NULL", [merchantId]);
  }

  /**
   * Records one attempt and what it means for the endpoint: a delivery clears its failing streak;
   * a failure starts one, and a streak of 5 days disables it. `at` is the delivery workflow's
   * time (durable timers, and time-skipping tests, run on it). Returns whether it is disabled now.
   */
  async recordAttempt(a: { endpointId: string; eventId: string; attempt: number; at: number; httpStatus?: number; ok: boolean; error?: string; durationMs: number }): Promise<{ disabled: boolean }> {
    return this.db.transaction(async (tx) => {
      await tx.execute(
        `INSERT INTO webhook_attempts (endpoint_id, event_id, attempt, at, http_status, outcome, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (endpoint_id, event_id, attempt) DO NOTHING`,
        [a.endpointId, a.eventId, a.attempt, a.at, a.httpStatus ?? null, a.ok ? 'delivered' : 'failed', a.error ?? null, a.durationMs],
      );
      if (a.ok) {
        await tx.execute('UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1', [a.endpointId]);
        return { disabled: false };
      }
      await tx.execute('UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2 AND failing_since IS NULL', [a.at, a.endpointId]);
      const [row] = await tx.query<{ failing_since: number | string }>('SELECT failing_since FROM webhook_endpoints WHERE id = $1', [a.endpointId]);
      if (row && a.at - Number(row.failing_since) >= DISABLE_AFTER_MS) {
        await tx.execute("UPDATE webhook_endpoints SET status = 'disabled', disabled_at = $1 WHERE id = $2 AND status = 'enabled'", [a.at, a.endpointId]);
        return { disabled: true };
      }
      return { disabled: false };
    });
  }

  async attempts(endpointId: string, limit: number): Promise<WebhookAttemptRow[]> {
    // The limit is bound like every other value (semgrep gateway.sql-built-from-string): no SQL text
    // is ever built from a caller's value, even a clamped number.
    return this.db.query<WebhookAttemptRow>('SELECT * FROM webhook_attempts WHERE endpoint_id = $1 ORDER BY at DESC, attempt DESC LIMIT $2', [
      endpointId,
      Math.max(1, Math.min(100, Math.trunc(limit))),
    ]);
  }
}

/** Whether an endpoint is subscribed to events of `type` (`*`: all of them). */
export function listens(endpoint: WebhookEndpointRow, type: string): boolean {
  const events = JSON.parse(endpoint.enabled_events) as string[];
  return events.includes('*') || events.includes(type);
}
