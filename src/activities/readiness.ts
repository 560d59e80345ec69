import os from 'node:os';
import { Context } from '@temporalio/activity';

export interface PingResult {
  taskQueue: string;
  /** Which worker answered: host and pid, for the operator reading /readyz. */
  worker: string;
}

/**
 * The activity every activity worker registers so that /readyz can prove its queue is served.
 * It does nothing else, on purpose: readiness must not touch card data or the acquirer.
 */
export function createReadinessActivities() {
  return {
    async ping(): Promise<PingResult> {
      return { taskQueue: Context.current().info.taskQueue, worker: `${os.hostname()}:${process.pid}` };
    },
  };
}

export type ReadinessActivities = ReturnType<typeof createReadinessActivities>;
