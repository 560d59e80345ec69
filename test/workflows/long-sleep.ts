import { sleep } from '@temporalio/workflow';

/** Sleeps for days on a durable timer and reports how much workflow time passed. */
export async function longSleepWorkflow(days: number): Promise<{ startedAt: number; finishedAt: number }> {
  const startedAt = Date.now();
  await sleep(`${days} days`);
  return { startedAt, finishedAt: Date.now() };
}
