import { condition, continueAsNew, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks';
import { TASK_QUEUES } from '../temporal/task-queues';

export interface WebhookDeliveryInput {
  endpointId: string;
  /** The event stream (a payment intent, or a /v1/payments payment): its events go out in order. */
  stream: string;
  /** Events not delivered yet, carried over a continue-as-new. */
  pending?: string[];
}

/** A new event of the stream for this endpoint (src/events/dispatch.ts sends it with signalWithStart). */
export const webhookEventSignal = defineSignal<[{ eventId: string }]>('webhookEvent');

/**
 * Svix's schedule (docs/stripe-compat.md): at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
 * after each failure, then every 10 h until the endpoint has failed for 5 days and is disabled.
 */
export const RETRY_SCHEDULE_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3600_000, 5 * 3600_000, 10 * 3600_000, 10 * 3600_000] as const;
const LAST_INTERVAL_MS = 10 * 3600_000;
/** A stream with nothing to send waits this long for its next event before the workflow ends. */
const IDLE_MS = 24 * 3600_000;
/** Events per run before continuing as new (keeps the history small). */
const EVENTS_PER_RUN = 200;

const { deliverWebhook } = proxyActivities<Pick<WebhookActivities, 'deliverWebhook'>>({
  taskQueue: TASK_QUEUES.records,
  // The HTTP call is bounded at 10 s; the activity's own retries are for the worker dying mid-call.
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

/**
 * Delivers one stream's events to one endpoint, durably and in order: an event is attempted on the
 * schedule until it is delivered (a 2xx within 10 s) or the endpoint is disabled; the next event
 * waits for it, so a payment's events reach the endpoint in the order they happened. Events are
 * known by id: the same event signalled twice is sent once.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<{ delivered: number; disabled: boolean }> {
  const queue: string[] = [...(input.pending ?? [])];
  const seen = new Set(queue);
  setHandler(webhookEventSignal, ({ eventId }) => {
    if (seen.has(eventId)) return;
    seen.add(eventId);
    queue.push(eventId);
  });
  let delivered = 0;
  for (;;) {
    if (queue.length === 0 && !(await condition(() => queue.length > 0, IDLE_MS))) return { delivered, disabled: false };
    const eventId = queue[0]!;
    for (let attempt = 1; ; attempt++) {
      const result = await deliverWebhook({ endpointId: input.endpointId, eventId, attempt, at: Date.now() });
      if (result.outcome === 'delivered' || result.outcome === 'event_gone') break;
      if (result.outcome === 'endpoint_disabled') return { delivered, disabled: true };
      await sleep(RETRY_SCHEDULE_MS[attempt - 1] ?? LAST_INTERVAL_MS);
    }
    queue.shift();
    delivered++;
    if (delivered >= EVENTS_PER_RUN && queue.length > 0) await continueAsNew<typeof webhookDeliveryWorkflow>({ ...input, pending: queue });
  }
}
