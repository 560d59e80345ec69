import { proxyActivities } from '@temporalio/workflow';
import type { RecordsActivities } from '../activities/records';
import { TASK_QUEUES } from '../temporal/task-queues';

const { purgeExpiredRecords } = proxyActivities<Pick<RecordsActivities, 'purgeExpiredRecords'>>({
  taskQueue: TASK_QUEUES.records,
  startToCloseTimeout: '5m',
  retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '10m' },
});

/** Started daily by the retention schedule (src/records/retention-schedule.ts): purges the records past RECORDS_RETENTION_DAYS. */
export async function recordsRetentionWorkflow(): Promise<{ purged: number }> {
  return purgeExpiredRecords();
}
