import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { longSleepWorkflow } from '../workflows/long-sleep';
import { createTimeSkippingEnv } from '../helpers/time-skipping';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('time skipping on the official test server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('a workflow that sleeps for 10 days completes in well under a second of wall time', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'long-sleep',
      workflowsPath: require.resolve('../workflows/long-sleep'),
    });
    const { result, wallMs } = await worker.runUntil(async () => {
      const started = performance.now();
      const result = await env.client.workflow.execute(longSleepWorkflow, {
        taskQueue: 'long-sleep',
        workflowId: `long-sleep-${Date.now()}`,
        args: [10],
      });
      return { result, wallMs: performance.now() - started };
    });
    // Workflow time really moved ten days: the timer fired, it was not shortened.
    expect(result.finishedAt - result.startedAt).toBeGreaterThanOrEqual(10 * DAY_MS);
    expect(wallMs).toBeLessThan(1_000);
  });
});
