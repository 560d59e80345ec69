import type { Db } from '../storage/db';
import { eventObject } from '../api/stripe/events';
import { WebhookEndpoints } from '../events/webhook-endpoints';
import { sendWebhook, signatureHeader } from '../events/webhook-sender';

export interface WebhookActivityDependencies {
  db: Db;
  /** Loopback endpoints are accepted outside production (NODE_ENV=production refuses them). */
  allowLoopback: boolean;
  /** Each attempt's outcome (webhook_deliveries_total). */
  onAttempt?: (outcome: DeliverWebhookOutcome) => void;
}

export interface DeliverWebhookInput {
  endpointId: string;
  eventId: string;
  attempt: number;
  /** The delivery workflow's time, for the endpoint's failing streak (epoch ms). */
  at?: number;
}

export type DeliverWebhookOutcome = 'delivered' | 'failed' | 'endpoint_disabled' | 'event_gone';

/**
 * The webhook deliveries (on the records worker, which owns the events' outbox): one attempt to
 * send one event to one endpoint, signed as Stripe signs (`Stripe-Signature`), recorded for the
 * merchant to see. Never retried by Temporal for an endpoint's failure: the delivery workflow
 * keeps the schedule.
 */
export function createWebhookActivities(deps: WebhookActivityDependencies) {
  const endpoints = new WebhookEndpoints(deps.db);
  return {
    async deliverWebhook(input: DeliverWebhookInput): Promise<{ outcome: DeliverWebhookOutcome; httpStatus?: number }> {
      const answer = await attempt(input);
      deps.onAttempt?.(answer.outcome);
      return answer;
    },
  };

  async function attempt(input: DeliverWebhookInput): Promise<{ outcome: DeliverWebhookOutcome; httpStatus?: number }> {
    const endpoint = await endpoints.get(input.endpointId);
    if (!endpoint || endpoint.status !== 'enabled') return { outcome: 'endpoint_disabled' };
    const [event] = await deps.db.query<{ id: string; type: string; object: string; created_at: number | string }>('SELECT id, type, object, created_at FROM stripe_events WHERE id = $1', [input.eventId]);
    if (!event) return { outcome: 'event_gone' };
    // The event as GET /v1/events/:id shows it; one endpoint is waiting for it.
    const body = JSON.stringify({ ...eventObject(event), pending_webhooks: 1 });
    const result = await sendWebhook(endpoint.url, body, { 'Stripe-Signature': signatureHeader(endpoint.secret, body, Math.floor(Date.now() / 1000)) }, { allowLoopback: deps.allowLoopback });
    const { disabled } = await endpoints.recordAttempt({
      endpointId: endpoint.id,
      eventId: event.id,
      attempt: input.attempt,
      at: input.at ?? Date.now(),
      ok: result.ok,
      durationMs: result.durationMs,
      ...(result.httpStatus !== undefined ? { httpStatus: result.httpStatus } : {}),
      ...(result.error ? { error: result.error } : {}),
    });
    if (result.ok) return { outcome: 'delivered', httpStatus: result.httpStatus! };
    return { outcome: disabled ? 'endpoint_disabled' : 'failed', ...(result.httpStatus !== undefined ? { httpStatus: result.httpStatus } : {}) };
  }
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
