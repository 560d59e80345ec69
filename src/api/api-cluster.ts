/**
 * API_PROCESSES > 1: this process becomes a node:cluster primary that runs that many API processes
 * sharing PORT (README, "Scaling out"), and serves no request itself.
 *
 * Why node:cluster: independent processes cannot all listen on one port on Node 20 (no
 * SO_REUSEPORT before Node 22.12), and a proxy in front would be one more hop and one more process
 * to supervise. Under cluster the primary owns the listening socket and hands each new connection
 * to the next process in turn (round-robin, Node's default on Linux). Living in the API's own entry
 * point, not in `npm start`, the same variable works wherever dist/api/server.js runs (compose, a
 * VM), and `npm start` still supervises one child for "the API", stopped first as before.
 *
 * The API processes are stateless between requests (payments live in Temporal and the database),
 * so any of them can answer any request; per-process state is only what each keeps in memory for
 * itself: the rate-limit windows (each process counts its own, so the effective limit is
 * API_PROCESSES times the configured one), the readiness cache and the data-key cache.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Env } from '../config/env';
import type { Logger } from '../logging/logger';
import { onShutdown } from '../process/lifecycle';

export function runApiCluster(env: Env, logger: Logger): Promise<void> {
  const slots = Array.from({ length: env.API_PROCESSES }, (_, i) => i + 1);
  const running = new Map<number, Worker>();
  const restartDelayMs = new Map<number, number>(slots.map((n) => [n, 1_000]));
  let stopping = false;

  const fork = (n: number) => {
    const startedAt = Date.now();
    const worker = cluster.fork({
      // Each process its own metrics listener: METRICS_PORT, METRICS_PORT + 1, … (src/cli/metrics-ports.ts).
      METRICS_PORT: env.METRICS_PORT === undefined ? '' : String(env.METRICS_PORT + n - 1),
      // The processes watch this primary, not `npm start`: they stop if it dies (src/process/lifecycle.ts).
      GATEWAY_SUPERVISOR_PID: String(process.pid),
      API_PROCESSES: '1',
    });
    running.set(n, worker);
    worker.once('exit', (code, signal) => {
      running.delete(n);
      if (stopping) return;
      // As src/cli/managed-process.ts does for `npm start`'s children: a crash is restarted with backoff.
      if (Date.now() - startedAt > 60_000) restartDelayMs.set(n, 1_000);
      const delay = restartDelayMs.get(n)!;
      logger.warn({ process: n, code, signal }, `API process #${n} exited (${signal ?? `exit ${code}`}); restarting in ${delay / 1000} s`);
      setTimeout(() => {
        if (!stopping) fork(n);
      }, delay).unref();
      restartDelayMs.set(n, Math.min(delay * 2, 30_000));
    });
  };

  slots.forEach(fork);
  logger.info({ processes: env.API_PROCESSES, port: env.PORT }, `API: ${env.API_PROCESSES} processes sharing :${env.PORT} (node:cluster)`);

  return new Promise((resolve) => {
    onShutdown((reason) => {
      stopping = true;
      logger.info({ reason }, 'API cluster shutting down: stopping every API process');
      // Each process finishes its in-flight requests on SIGTERM (src/api/server.ts).
      const exits = [...running.values()].map((worker) => new Promise((gone) => worker.once('exit', gone)));
      for (const worker of running.values()) worker.process.kill('SIGTERM');
      void Promise.all(exits).then(() => {
        logger.info('API cluster stopped');
        resolve();
      });
    });
  });
}
