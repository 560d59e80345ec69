import { randomUUID } from 'node:crypto';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startDevStack, type DevStack } from '../helpers/dev-stack';
import { cancelAsSignal, requestAfterTimerWorkflow } from '../workflows/request-after-timer';

const { EventType } = temporal.api.enums.v1;
const TASK_QUEUE = 'request-after-timer';

/**
 * A request that lands in the same workflow task as a deadline, while the workflow worker that
 * took that task has died (the SIGKILL of the model test and the soak), then a replay on a fresh
 * worker: the scenario of sdk-rust #943 / #1146 in the payment workflow's own shape (wait for a
 * request or a deadline, then a money call). The "dead" worker is this test taking the workflow
 * task off the queue and never answering, which is all the server sees of a killed worker; the
 * live and the replaying workers are real SDK workers on a real dev server.
 *
 * As a signal the request is an event in the history, so the live worker and any later replay
 * see it at the same place. (As an update, its acceptance is a protocol message whose place among
 * the task's commands the SDK must reconstruct; a model run of the first release found SDK 1.24
 * getting that wrong after a killed worker. These two exact schedules did not reproduce it: see
 * docs/replay.md.)
 */
describe('a request in the same workflow task as a deadline, taken by a worker that dies, then replayed', () => {
  let stack: DevStack;
  let connection: NativeConnection;
  /** Plain payloads: this workflow carries nothing secret, and its worker has the default converter. */
  let client: Client;
  beforeAll(async () => {
    stack = await startDevStack({ queues: [] });
    connection = await NativeConnection.connect({ address: stack.server.address });
    client = new Client({ connection: stack.client.connection });
  }, 120_000);
  afterAll(async () => {
    await connection?.close();
    await stack?.stop();
  });

  /** A fresh worker (empty cache) for as long as `work` runs. */
  const withWorker = async <T>(work: () => Promise<T>): Promise<T> => {
    const worker = await Worker.create({
      connection,
      taskQueue: TASK_QUEUE,
      workflowsPath: require.resolve('../workflows/request-after-timer'),
      // Keep it on the normal queue: the replaying worker must be a different one.
      maxCachedWorkflows: 10,
    });
    return worker.runUntil(work);
  };

  const events = async (handle: WorkflowHandle) => (await handle.fetchHistory()).events ?? [];
  const nondeterminismFailures = async (handle: WorkflowHandle) =>
    (await events(handle)).filter(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED &&
        e.workflowTaskFailedEventAttributes?.cause === temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
    );
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const waitFor = async (what: () => Promise<boolean>, ms = 20_000) => {
    for (const until = Date.now() + ms; Date.now() < until; await pause(100)) if (await what()) return;
    throw new Error('timed out');
  };

  /**
   * Starts the workflow on a live worker, lets it block on its deadline, then plays the dead
   * worker for the task the deadline makes, sends the request while that task is out, and lets a
   * fresh worker take the next attempt. Returns once the request is in the history.
   */
  const requestWhileTheWorkerDies = async (send: (handle: WorkflowHandle) => Promise<unknown>) => {
    const handle = await client.workflow.start(requestAfterTimerWorkflow, {
      workflowId: `request-after-timer-${randomUUID()}`,
      taskQueue: TASK_QUEUE,
      args: [3_000],
      // The dead worker's task times out quickly, so the next attempt comes soon.
      workflowTaskTimeout: '2s',
    });
    await withWorker(() => waitFor(async () => (await events(handle)).some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED)));
    // The worker above is gone (its cache with it). The deadline fires; the dead worker takes that task.
    const task = await client.withDeadline(Date.now() + 20_000, () =>
      client.workflowService.pollWorkflowTaskQueue({
        namespace: 'default',
        taskQueue: { name: TASK_QUEUE, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        identity: 'worker-killed-mid-task',
      }),
    );
    expect(task.taskToken?.length).toBeGreaterThan(0);
    const sent = send(handle);
    await withWorker(async () => {
      await sent;
      await waitFor(async () => (await events(handle)).some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED));
    });
    return handle;
  };

  /**
   * The worker is killed while the workflow waits; the request comes while no worker runs, and
   * the deadline passes before the next worker starts: its first task carries both.
   */
  const requestWhileNoWorkerRuns = async (send: (handle: WorkflowHandle) => Promise<unknown>) => {
    const handle = await client.workflow.start(requestAfterTimerWorkflow, {
      workflowId: `request-after-timer-${randomUUID()}`,
      taskQueue: TASK_QUEUE,
      args: [3_000],
    });
    await withWorker(() => waitFor(async () => (await events(handle)).some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED)));
    const sent = send(handle);
    await waitFor(async () => (await events(handle)).some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_FIRED));
    await withWorker(async () => {
      await sent;
      await waitFor(async () => (await events(handle)).some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED));
    });
    return handle;
  };

  /** A fresh worker replays the whole history to take one more task. */
  const replayOnFreshWorker = async (handle: WorkflowHandle) => {
    await withWorker(async () => {
      await handle.signal(cancelAsSignal);
      await pause(4_000);
    });
  };

  const scheduled = async (handle: WorkflowHandle) => (await events(handle)).filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).length;

  it.each([
    ["the worker dies holding the deadline's task: the request replays where it landed, one money call", requestWhileTheWorkerDies],
    ['the request comes while no worker runs and the deadline passes: the next worker and a replay agree', requestWhileNoWorkerRuns],
  ])('%s', async (_name, schedule) => {
    const handle = await schedule((h) => h.signal(cancelAsSignal));
    await replayOnFreshWorker(handle);
    expect(await nondeterminismFailures(handle)).toEqual([]);
    expect(await scheduled(handle)).toBe(1);
    await handle.terminate('test done');
  }, 90_000);
});
