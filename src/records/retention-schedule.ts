import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { TASK_QUEUES } from '../temporal/task-queues';

export const RETENTION_SCHEDULE_ID = 'payment-records-retention';

/**
 * The daily purge of payment records past their retention, as a Temporal Schedule (visible and
 * pausable in the Web UI's Schedules page). Created once; an existing schedule is left as it is,
 * so an operator's pause or change survives restarts.
 */
export async function ensureRetentionSchedule(client: Client): Promise<'created' | 'exists'> {
  try {
    await client.schedule.create({
      scheduleId: RETENTION_SCHEDULE_ID,
      spec: { intervals: [{ every: '1 day' }] },
      action: { type: 'startWorkflow', workflowType: 'recordsRetentionWorkflow', taskQueue: TASK_QUEUES.payments, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    });
    return 'created';
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return 'exists';
    throw err;
  }
}
