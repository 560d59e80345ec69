import os from 'node:os';
import type { Client } from '@temporalio/client';
import { readinessWorkflow, type QueueCheck } from '../workflows/readiness';
import { TASK_QUEUES } from '../temporal/task-queues';
import { withoutInternalAddresses } from './public-message';

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
  // The abort cancels every gRPC call of the probe, retries included: nothing lingers after we answer.
  // Connecting is not abortable (a lazy connection waits out its connect timeout), hence the race.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const deadline = new Promise<never>((_, reject) =>
    controller.signal.addEventListener('abort', () => reject(new Error('deadline passed'))),
  );
  const temporalOk: ComponentCheck = { component: 'temporal', ok: true, detail: `namespace ${client.options.namespace}` };
  try {
    const probe = client.withAbortSignal(controller.signal, async () => {
      const handle = await client.workflow.start(readinessWorkflow, {
        taskQueue: TASK_QUEUES.payments,
        workflowId,
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowExecutionTimeout: timeoutMs * 3,
        args: [{ pingTimeoutMs: Math.floor(timeoutMs * 0.6) }],
      });
      progress.phase = 'payments';
      return handle.result();
    });
    probe.catch(() => undefined); // when the deadline wins, the probe's own rejection is expected
    const checks = await Promise.race([probe, deadline]);
    return report([temporalOk, ...checks.map(queueCheck)]);
  } catch (err) {
    const timedOut = controller.signal.aborted;
    if (progress.phase === 'temporal') {
      return report([{ component: 'temporal', ok: false, detail: timedOut ? `no answer within ${timeoutMs} ms` : (err as Error).message }]);
    }
    const detail = timedOut ? `no worker ran the readiness workflow within ${timeoutMs} ms` : (err as Error).message;
    return report([temporalOk, { component: 'queue:payments', ok: false, detail }]);
  } finally {
    clearTimeout(timer);
  }
}

function queueCheck(check: QueueCheck): ComponentCheck {
  return { component: `queue:${check.queue}`, ok: check.ok, detail: check.detail };
}

function report(raw: ComponentCheck[]): ReadinessReport {
  // /readyz is public: the details (gRPC errors, which worker answered) lose their internal addresses.
  const checks = raw.map((c) => ({ ...c, detail: withoutInternalAddresses(c.detail) }));
  const failed = checks.filter((c) => !c.ok);
  return {
    ready: failed.length === 0,
    ...(failed.length ? { reason: failed.map((c) => `${c.component}: ${c.detail}`).join('; ') } : {}),
    checks,
  };
}
