import os from 'node:os';
import type { Client } from '@temporalio/client';
import { readinessWorkflow, type QueueCheck } from '../workflows/readiness';
import { TASK_QUEUES } from '../temporal/task-queues';

export interface ComponentCheck {
  component: string;
  ok: boolean;
  detail: string;
}

export interface ReadinessReport {
  ready: boolean;
  /** The first failing component, in words, for the operator and the load balancer's log. */
  reason?: string;
  checks: ComponentCheck[];
}

/**
 * Proves the whole path works: Temporal answers, the payments worker runs a workflow, and every
 * activity queue answers a ping (src/workflows/readiness.ts).
 *
 * One workflow id per API process with USE_EXISTING: concurrent probes share the run in flight
 * instead of piling up, and the Web UI shows one readiness workflow per API instance rather than
 * one per probe. The run's execution timeout closes it if no worker ever picks it up.
 */
export async function checkReadiness(client: Client, timeoutMs: number): Promise<ReadinessReport> {
  const workflowId = `readiness-${os.hostname()}-${process.pid}`;
  // Which step the probe is in when the deadline passes tells which component is not answering.
  const progress: { phase: 'temporal' | 'payments' } = { phase: 'temporal' };
  const probe = (async () => {
    const handle = await client.workflow.start(readinessWorkflow, {
      taskQueue: TASK_QUEUES.payments,
      workflowId,
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowExecutionTimeout: timeoutMs * 3,
      args: [{ pingTimeoutMs: Math.floor(timeoutMs * 0.6) }],
    });
    progress.phase = 'payments';
    return handle.result();
  })();

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([probe, deadline]);
    const temporal: ComponentCheck = { component: 'temporal', ok: true, detail: `namespace ${client.options.namespace}` };
    if (outcome === 'timeout') {
      return report([
        progress.phase === 'temporal'
          ? { component: 'temporal', ok: false, detail: `no answer within ${timeoutMs} ms` }
          : temporal,
        ...(progress.phase === 'payments'
          ? [{ component: 'queue:payments', ok: false, detail: `no worker ran the readiness workflow within ${timeoutMs} ms` }]
          : []),
      ]);
    }
    return report([temporal, ...outcome.map(queueCheck)]);
  } catch (err) {
    return report([{ component: progress.phase === 'temporal' ? 'temporal' : 'queue:payments', ok: false, detail: (err as Error).message }]);
  } finally {
    clearTimeout(timer);
    probe.catch(() => undefined); // abandoned after a timeout; its failure is already reported
  }
}

function queueCheck(check: QueueCheck): ComponentCheck {
  return { component: `queue:${check.queue}`, ok: check.ok, detail: check.detail };
}

function report(checks: ComponentCheck[]): ReadinessReport {
  const failed = checks.filter((c) => !c.ok);
  return {
    ready: failed.length === 0,
    ...(failed.length ? { reason: failed.map((c) => `${c.component}: ${c.detail}`).join('; ') } : {}),
    checks,
  };
}
