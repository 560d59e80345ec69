import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { TASK_QUEUES } from '../temporal/task-queues';

export const RECONCILIATION_SCHEDULE_ID = 'daily-reconciliation';

/**
 * The daily reconciliation as a Temporal Schedule, at the settlement cutoff (SETTLEMENT_CUTOFF_UTC,
 * "HH:MM" or "HH:MM:SS"): visible, pausable and triggerable in the Web UI's Schedules page.
 * Created once; an existing schedule is left as it is, so an operator's pause or change survives
 * restarts.
 */
export async function ensureReconciliationSchedule(client: Client, cutoffUtc: string): Promise<'created' | 'exists'> {
  const [hour = 22, minute = 0, second = 0] = cutoffUtc.split(':').map(Number);
  try {
    await client.schedule.create({
      scheduleId: RECONCILIATION_SCHEDULE_ID,
      spec: { calendars: [{ hour, minute, second, comment: 'settlement cutoff (UTC)' }], timezone: 'UTC' },
      action: { type: 'startWorkflow', workflowType: 'reconciliationWorkflow', taskQueue: TASK_QUEUES.payments, args: [{}] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    });
    return 'created';
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return 'exists';
    throw err;
  }
}
