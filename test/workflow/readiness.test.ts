import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createReadinessActivities } from '../../src/activities/readiness';
import { TASK_QUEUES, type ActivityQueueName } from '../../src/temporal/task-queues';
import { readinessWorkflow } from '../../src/workflows';
import { createTimeSkippingEnv } from '../helpers/time-skipping';

describe('readiness workflow (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  async function runWith(queues: ActivityQueueName[]) {
    const activityWorkers = await Promise.all(
      queues.map((queue) =>
        Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES[queue], activities: createReadinessActivities() }),
      ),
    );
    const payments = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUES.payments,
      workflowsPath: require.resolve('../../src/workflows'),
    });
    const run = () =>
      env.client.workflow.execute(readinessWorkflow, {
        taskQueue: TASK_QUEUES.payments,
        workflowId: `readiness-${queues.join('-')}-${Date.now()}`,
        args: [{ pingTimeoutMs: 3_000 }],
      });
    // Each worker must be running while the workflow runs; nest runUntil so all of them are.
    return activityWorkers.reduce<() => ReturnType<typeof run>>((inner, w) => () => w.runUntil(inner), () => payments.runUntil(run))();
  }

  it('every queue answers when every worker runs', async () => {
    const checks = await runWith(['vault', 'fraud', 'acquirer', 'records']);
    expect(checks.map((c) => [c.queue, c.ok])).toEqual([
      ['payments', true],
      ['vault', true],
      ['fraud', true],
      ['acquirer', true],
      ['records', true],
    ]);
    expect(checks[1]!.detail).toMatch(/^answered by worker /);
  });

  it('a queue with no worker is named, and the others still answer', async () => {
    const checks = await runWith(['vault', 'acquirer', 'records']);
    const fraud = checks.find((c) => c.queue === 'fraud')!;
    expect(fraud).toEqual({ queue: 'fraud', ok: false, detail: 'no worker picked up the fraud queue within 3000 ms' });
    expect(checks.filter((c) => c.ok).map((c) => c.queue)).toEqual(['payments', 'vault', 'acquirer', 'records']);
  });
});
