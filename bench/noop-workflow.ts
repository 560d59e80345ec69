/**
 * The floor of `npm run bench:e2e` (bench/e2e.ts): a bare workflow with as many activities as a
 * payment runs before POST /v1/payments answers, on the same task queues, doing nothing.
 *
 * The payment path runs tokenize (vault), checkFraud (fraud), authorize (vault), purgeCvv (vault)
 * and capturePayment (acquirer), one after the other. Here each is replaced by the readiness
 * `ping` activity (src/activities/readiness.ts), which every activity worker registers and which
 * does no I/O: the same five activity tasks, dispatched to the same worker processes, with none of
 * the work. Bundled by the bench's in-process workflow worker, so deterministic code only.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ReadinessActivities } from '../src/activities/readiness';
import { TASK_QUEUES, type ActivityQueueName } from '../src/temporal/task-queues';

/** The activity queues of the payment path, in its order (src/workflows/payment/payment-workflow.ts). */
export const PAYMENT_PATH_QUEUES: readonly ActivityQueueName[] = ['vault', 'fraud', 'vault', 'vault', 'acquirer'];

const ping = (queue: ActivityQueueName) => proxyActivities<ReadinessActivities>({ taskQueue: TASK_QUEUES[queue], startToCloseTimeout: '30s' }).ping;
const pings: Record<ActivityQueueName, () => Promise<unknown>> = { vault: ping('vault'), fraud: ping('fraud'), acquirer: ping('acquirer'), records: ping('records') };

/** Five sequential no-op activities; returns how many ran. */
export async function noopPaymentFloorWorkflow(): Promise<number> {
  for (const queue of PAYMENT_PATH_QUEUES) await pings[queue]();
  return PAYMENT_PATH_QUEUES.length;
}
