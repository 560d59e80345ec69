import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReconciliationActivities, ReconciliationSummary } from '../activities/reconciliation';
import { TASK_QUEUES } from '../temporal/task-queues';

const { reconcileDay } = proxyActivities<Pick<ReconciliationActivities, 'reconcileDay'>>({
  taskQueue: TASK_QUEUES.records,
  startToCloseTimeout: '10m',
  // The acquirer's report may be unavailable for a while: retried, the day's report is not lost.
  retry: { initialInterval: '30s', backoffCoefficient: 2, maximumInterval: '30m' },
});

/**
 * The daily reconciliation (src/reconciliation/reconciliation-schedule.ts): started at the
 * settlement cutoff, it reconciles the previous UTC day, whose movements and settlements are
 * complete by then. Operations can start it for any day with `date` (YYYY-MM-DD).
 */
export async function reconciliationWorkflow(input: { date?: string } = {}): Promise<ReconciliationSummary> {
  // The day before the workflow started (the schedule's catch-up window is an hour, so a run
  // started late still falls on its own day; any other day is re-run with `date`).
  const startedAt = workflowInfo().startTime.getTime();
  const date = input.date ?? new Date(startedAt - 86_400_000).toISOString().slice(0, 10);
  return reconcileDay(date);
}
