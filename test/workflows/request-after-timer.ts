import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

/**
 * The smallest shape of the payment workflow's waits (DESIGN.md §4): a request or a deadline,
 * then a money call. Used by test/integration/requests-across-killed-worker.test.ts.
 */
export const cancelAsSignal = defineSignal('requestCancel');

const { release } = proxyActivities<{ release(why: string): Promise<void> }>({
  // Nobody runs this activity: scheduling it is the command that matters.
  taskQueue: 'request-after-timer-activities',
  startToCloseTimeout: '1 minute',
});

export async function requestAfterTimerWorkflow(deadlineMs: number): Promise<string> {
  let cancelRequested = false;
  setHandler(cancelAsSignal, () => {
    cancelRequested = true;
  });
  const requested = await condition(() => cancelRequested, deadlineMs);
  await release(requested ? 'canceled' : 'expired');
  await condition(() => false, '1 day');
  return 'done';
}
