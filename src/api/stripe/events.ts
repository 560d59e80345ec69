import type { Db } from '../../storage/db';
import { EVENT_TYPES } from '../../events/payment-events';
import { addressAllowed } from '../../events/webhook-sender';
import { WebhookEndpoints, type WebhookEndpointRow } from '../../events/webhook-endpoints';
import { listObject, STRIPE_API_VERSION } from './objects';
import { StripeError } from './stripe-errors';

/** How long events can be read back (Stripe: 30 days). */
export const EVENT_RETENTION_MS = 30 * 24 * 3600_000;

interface EventRow {
  id: string;
  merchant_id: string;
  stream: string;
  seq: number;
  type: string;
  object: string;
  created_at: number | string;
}

export function eventObject(row: Pick<EventRow, 'id' | 'type' | 'object' | 'created_at'>) {
  return {
    id: row.id,
    object: 'event' as const,
    api_version: STRIPE_API_VERSION,
    created: Math.floor(Number(row.created_at) / 1000),
    data: { object: JSON.parse(row.object) as unknown },
    livemode: false,
    pending_webhooks: 0,
    request: { id: null, idempotency_key: null },
    type: row.type,
  };
}

function endpointObject(row: WebhookEndpointRow, withSecret = false) {
  return {
    id: row.id,
    object: 'webhook_endpoint' as const,
    api_version: null,
    application: null,
    created: Math.floor(Number(row.created_at) / 1000),
    description: row.description,
    enabled_events: JSON.parse(row.enabled_events) as string[],
    livemode: false,
    metadata: {},
    // The signing secret is shown once, when the endpoint is created.
    ...(withSecret ? { secret: row.secret } : {}),
    status: row.status,
    url: row.url,
  };
}

/** Webhook endpoints and events as a merchant manages and reads them (docs/stripe-compat.md). */
export class StripeEvents {
  private readonly endpoints: WebhookEndpoints;

  constructor(
    private readonly db: Db,
    /** NODE_ENV=production: no loopback, private or link-local webhook URLs, https only. */
    private readonly production: boolean,
  ) {
    this.endpoints = new WebhookEndpoints(db);
  }

  async createEndpoint(merchantId: string, params: { url: string; enabled_events: string[]; description?: string }) {
    const url = new URL(params.url);
    if (this.production && url.protocol !== 'https:') throw invalidUrl('must use https');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const literal = /^[\d.]+$/.test(host) || host.includes(':');
    if ((literal && !addressAllowed(host, !this.production)) || (this.production && /(^|\.)localhost$/i.test(host))) {
      throw invalidUrl('must not point at a private, loopback or link-local address');
    }
    const unknown = params.enabled_events.filter((e) => e !== '*' && !(EVENT_TYPES as readonly string[]).includes(e));
    if (unknown.length) {
      throw new StripeError(400, 'invalid_request_error', 'parameter_invalid', `Invalid enabled_events: ${unknown.map((e) => e.slice(0, 60)).join(', ')}; supported: *, ${EVENT_TYPES.join(', ')}`, { param: 'enabled_events' });
    }
    const row = await this.endpoints.create(merchantId, { url: url.toString(), enabledEvents: [...new Set(params.enabled_events)], ...(params.description ? { description: params.description } : {}) });
    return endpointObject(row, true);
  }

  async endpoint(merchantId: string, id: string) {
    return endpointObject(await this.ownEndpoint(merchantId, id));
  }

  async listEndpoints(merchantId: string) {
    return listObject('/v1/webhook_endpoints', (await this.endpoints.list(merchantId)).map((r) => endpointObject(r)), false);
  }

  async deleteEndpoint(merchantId: string, id: string) {
    await this.ownEndpoint(merchantId, id);
    await this.endpoints.delete(id);
    return { id, object: 'webhook_endpoint' as const, deleted: true };
  }

  /** The endpoint's recent delivery attempts, newest first (not a Stripe route: Stripe shows them in its dashboard). */
  async attempts(merchantId: string, id: string, limit: number) {
    await this.ownEndpoint(merchantId, id);
    const rows = await this.endpoints.attempts(id, limit);
    return listObject(
      `/v1/webhook_endpoints/${id}/attempts`,
      rows.map((a) => ({ object: 'webhook_attempt' as const, event: a.event_id, attempt: a.attempt, at: Math.floor(Number(a.at) / 1000), outcome: a.outcome, http_status: a.http_status, error: a.error, duration_ms: a.duration_ms })),
      false,
    );
  }

  async event(merchantId: string, id: string) {
    const [row] = await this.db.query<EventRow>('SELECT * FROM stripe_events WHERE id = $1 AND created_at >= $2', [id, Date.now() - EVENT_RETENTION_MS]);
    if (!row || row.merchant_id !== merchantId) throw new StripeError(404, 'invalid_request_error', 'resource_missing', `No such event: '${id}'`, { param: 'id' });
    return eventObject(row);
  }

  /** Newest first, the last 30 days; `type` filters (`payment_intent.*` matches a prefix, as Stripe's does). */
  async listEvents(merchantId: string, params: { limit: number; starting_after?: string; ending_before?: string; type?: string }) {
    const where = ['merchant_id = $1', 'created_at >= $2'];
    const args: unknown[] = [merchantId, Date.now() - EVENT_RETENTION_MS];
    if (params.type) {
      if (params.type.endsWith('.*')) {
        args.push(`${params.type.slice(0, -1)}%`);
        where.push(`type LIKE $${args.length}`);
      } else {
        args.push(params.type);
        where.push(`type = $${args.length}`);
      }
    }
    const cursorId = params.starting_after ?? params.ending_before;
    let descending = true;
    if (cursorId) {
      const [cursor] = await this.db.query<EventRow>('SELECT * FROM stripe_events WHERE id = $1 AND merchant_id = $2', [cursorId, merchantId]);
      if (!cursor) throw new StripeError(404, 'invalid_request_error', 'resource_missing', `No such event: '${cursorId.slice(0, 64)}'`, { param: params.starting_after ? 'starting_after' : 'ending_before' });
      args.push(cursor.created_at, cursor.id);
      const [c, i] = [`$${args.length - 1}`, `$${args.length}`];
      if (params.starting_after) where.push(`(created_at < ${c} OR (created_at = ${c} AND id < ${i}))`);
      else {
        where.push(`(created_at > ${c} OR (created_at = ${c} AND id > ${i}))`);
        descending = false;
      }
    }
    const rows = await this.db.query<EventRow>(`SELECT * FROM stripe_events WHERE ${where.join(' AND ')} ORDER BY created_at ${descending ? 'DESC' : 'ASC'}, id ${descending ? 'DESC' : 'ASC'} LIMIT ${params.limit + 1}`, args);
    const page = rows.slice(0, params.limit);
    if (!descending) page.reverse();
    return listObject('/v1/events', page.map(eventObject), rows.length > params.limit);
  }

  private async ownEndpoint(merchantId: string, id: string): Promise<WebhookEndpointRow> {
    const row = await this.endpoints.get(id);
    if (!row || row.merchant_id !== merchantId) throw new StripeError(404, 'invalid_request_error', 'resource_missing', `No such webhook endpoint: '${id}'`, { param: 'id' });
    return row;
  }
}

function invalidUrl(why: string): StripeError {
  return new StripeError(400, 'invalid_request_error', 'url_invalid', `Invalid URL: ${why}`, { param: 'url' });
}
