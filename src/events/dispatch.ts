import type { Client } from '@temporalio/client';
import type { Db } from '../storage/db';
import { TASK_QUEUES } from '../temporal/task-queues';
import { webhookEventSignal, type webhookDeliveryWorkflow } from '../workflows/webhook-delivery';
import { listens, WebhookEndpoints } from './webhook-endpoints';

/**
 * Hands a stream's new events to Temporal: for each endpoint subscribed to an event, a signal to
 * that endpoint's delivery workflow for the stream (started if it is not running). An event is
 * marked dispatched only after every signal landed, so a crash in between dispatches it again:
 * the workflow knows events by id and sends each once.
 */
export async function dispatchEvents(db: Db, client: Client, stream: string): Promise<number> {
  const events = await db.query<{ id: string; merchant_id: string; type: string }>('SELECT id, merchant_id, type FROM stripe_events WHERE stream = $1 AND dispatched = 0 ORDER BY seq', [stream]);
  if (events.length === 0) return 0;
  // A stream is one merchant's: its endpoints are read once, not once per event.
  const endpoints = await new WebhookEndpoints(db).enabled(events[0]!.merchant_id);
  for (const event of events) {
    for (const endpoint of endpoints.filter((e) => listens(e, event.type))) {
      await client.workflow.signalWithStart<typeof webhookDeliveryWorkflow, [{ eventId: string }]>('webhookDeliveryWorkflow', {
        workflowId: `webhook-${endpoint.id}-${stream}`,
        taskQueue: TASK_QUEUES.payments,
        args: [{ endpointId: endpoint.id, stream }],
        signal: webhookEventSignal,
        signalArgs: [{ eventId: event.id }],
      });
    }
    await db.execute('UPDATE stripe_events SET dispatched = 1 WHERE id = $1', [event.id]);
  }
  return events.length;
}
