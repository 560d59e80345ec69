/**
 * Dynamic configuration the embedded dev server runs with (`--dynamic-config-value`), and why.
 *
 * An activity hop on an idle dev server cost about 52 ms. A payment's history says where: each
 * activity task and each workflow task waited about 40 ms between being scheduled and being handed
 * to the worker that was already long-polling for it (ActivityTaskScheduled → ActivityTaskStarted,
 * WorkflowTaskScheduled → WorkflowTaskStarted), while the worker itself took 4–10 ms. That wait is
 * in the history service, before matching sees the task: a new task is written to the shard's
 * transfer queue, and the queue's reader reads it at most `history.transferProcessorMaxPollRPS`
 * times a second per shard (default 20, one read per 50 ms). A production cluster has hundreds
 * of shards, each read at that rate; the dev server has one shard, so every payment on it waits
 * for the same reader, twice per activity. Raising the rate removes the wait (measured with
 * bench/e2e.ts and the history timings in docs/performance.md): 5 no-op activities 300 ms → 40 ms
 * at one client. The reader still reads only when it is told of new tasks (or at its max poll
 * interval), so an idle server does no more work; under load each read takes fewer tasks.
 *
 * The visibility queue (what the Web UI's list and search attributes read) has the same reader and
 * the same default: the Web UI showed a payment's status up to 50 ms late per change, and a burst of
 * payments queued behind it.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number>> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.visibilityProcessorMaxPollRPS': 1000,
};

/** The flags that pass it to `temporal server start-dev`. */
export function devServerDynamicConfigArgs(config: Readonly<Record<string, number>> = DEV_SERVER_DYNAMIC_CONFIG): string[] {
  return Object.entries(config).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]);
}
