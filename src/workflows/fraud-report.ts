import { proxyActivities } from '@temporalio/workflow';
import type { FraudActivities } from '../activities/fraud';
import { TASK_QUEUES } from '../temporal/task-queues';

export interface FraudReportInput {
  paymentId: string;
  reason?: string;
  /** Who reported it: `operator:<subject>` of the ops token. */
  reportedBy: string;
}

const { reportFraud } = proxyActivities<Pick<FraudActivities, 'reportFraud'>>({
  taskQueue: TASK_QUEUES.fraud,
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
});

/**
 * A fraud label for one payment (POST /v1/fraud/reports): hands it to the fraud worker, which owns
 * the feature store. The API starts it with the id `fraud-report-<payment>`, so reporting twice
 * finds the same report; the activity is idempotent as well.
 */
export async function fraudReportWorkflow(input: FraudReportInput) {
  return reportFraud(input);
}
