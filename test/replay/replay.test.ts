import { Worker, type ReplayResult, type ReplayWorkerOptions } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Metrics, metricsSinks } from '../../src/observability/metrics';
import { describeSignature, pathSignature } from '../helpers/history-paths';
import { recordedHistories, type RecordedHistory } from './recorded-histories';

/**
 * Replay safety (DESIGN.md §6, docs/replay.md): every recorded history of the payment workflow
 * must replay against the current workflow code, and a non-deterministic change to the workflow
 * must be caught by the same histories. The payloads of the committed histories are already
 * decoded, so the replay uses the default data converter and needs no key.
 */

function replayOptions(workflowsPath: string): ReplayWorkerOptions {
  return {
    workflowsPath,
    // Same sinks as the payments worker; they are not called during replay.
    sinks: metricsSinks(new Metrics({ defaultMetrics: false })),
  };
}

async function replayAll(workflowsPath: string, histories: RecordedHistory[]): Promise<Map<string, ReplayResult>> {
  const results = new Map<string, ReplayResult>();
  const replays = Worker.runReplayHistories(
    replayOptions(workflowsPath),
    histories.map(({ workflowId, history }) => ({ workflowId, history })),
  );
  for await (const result of replays) results.set(result.workflowId, result);
  return results;
}

/** A failure line that says which file, which path and what went wrong. */
const describe_ = (h: RecordedHistory, detail: string) => `${h.file}\n    path: ${describeSignature(pathSignature(h.history))}\n    ${detail}`;

describe('replay of the recorded payment histories', () => {
  it('every recorded history replays against the current workflow code', async () => {
    const histories = recordedHistories();
    const results = await replayAll(require.resolve('../../src/workflows'), histories);

    const failures = histories.flatMap((h) => {
      const result = results.get(h.workflowId);
      if (!result) return [describe_(h, 'was not replayed')];
      if (result.error) return [describe_(h, `${result.error.name}: ${result.error.message}`)];
      return [];
    });
    if (failures.length > 0) {
      throw new Error(
        `${failures.length} of ${histories.length} recorded histories no longer replay: the workflow change is not ` +
          `replay-safe. Version it with patched() or a new workflow type (docs/replay.md).\n  ${failures.join('\n  ')}`,
      );
    }
    expect(results.size).toBe(histories.length);
  }, 300_000);

  it('a non-deterministic variant of the workflow fails the replay of every history', async () => {
    const histories = recordedHistories();
    const results = await replayAll(require.resolve('./nondeterministic-workflows'), histories);

    const uncaught = histories.flatMap((h) => {
      const error = results.get(h.workflowId)?.error;
      if (error instanceof DeterminismViolationError) return [];
      return [describe_(h, error ? `failed with ${error.name} (${error.message}), not a DeterminismViolationError` : 'replayed without error')];
    });
    if (uncaught.length > 0) {
      throw new Error(`The replay missed a non-deterministic change for ${uncaught.length} of ${histories.length} histories:\n  ${uncaught.join('\n  ')}`);
    }
    expect(results.size).toBe(histories.length);
  }, 300_000);
});
