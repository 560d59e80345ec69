import { ActivityFailure, TimeoutFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReadinessActivities } from '../activities/readiness';
import { ACTIVITY_QUEUES, type TaskQueueName } from '../temporal/task-queues';

export interface QueueCheck {
  queue: TaskQueueName;
  ok: boolean;
  detail: string;
}

export interface ReadinessInput {
  /** How long each activity queue has to pick up and answer its ping. */
  pingTimeoutMs: number;
}

/**
 * The probe behind GET /readyz: it runs on the payments queue (so its own execution proves a
 * workflow worker is polling) and pings every activity queue in parallel, once, without retries:
 * a queue that does not answer in time is reported, not waited for.
 */
export async function readinessWorkflow(input: ReadinessInput): Promise<QueueCheck[]> {
  const probes = ACTIVITY_QUEUES.map(async (queue): Promise<QueueCheck> => {
    const { ping } = proxyActivities<ReadinessActivities>({
      taskQueue: queue,
      scheduleToStartTimeout: input.pingTimeoutMs,
      startToCloseTimeout: input.pingTimeoutMs,
      retry: { maximumAttempts: 1 },
    });
    try {
      const answer = await ping();
      return { queue, ok: true, detail: `answered by worker ${answer.worker}` };
    } catch (err) {
      return { queue, ok: false, detail: describeFailure(queue, err, input.pingTimeoutMs) };
    }
  });
  const payments: QueueCheck = {
    queue: workflowInfo().taskQueue as TaskQueueName,
    ok: true,
    detail: 'workflow task executed',
  };
  return [payments, ...(await Promise.all(probes))];
}

function describeFailure(queue: string, err: unknown, timeoutMs: number): string {
  if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) {
    return err.cause.timeoutType === 'SCHEDULE_TO_START'
      ? `no worker picked up the ${queue} queue within ${timeoutMs} ms`
      : `the ${queue} worker did not answer within ${timeoutMs} ms`;
  }
  return `the ${queue} worker failed the ping: ${(err as Error).message}`;
}
