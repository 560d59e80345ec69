import { MAX_PROCESSES } from '../config/env';
import { ALL_QUEUES, type TaskQueueName } from '../temporal/task-queues';

/**
 * Where every process of `npm start` serves its Prometheus metrics, from WORKER_METRICS_BASE_PORT
 * (README, "Scaling out"). The first worker of each queue and the first API process keep the ports
 * they had before scaling out existed, so dashboards, docs and tests written for one process of
 * each still hold:
 *
 * | process                          | port(s)                                           |
 * |----------------------------------|---------------------------------------------------|
 * | worker #1 of the i-th queue      | base + 2i, its SDK exporter base + 2i + 1         |
 * | API process #n                   | base + 10 + (n - 1): consecutive, as the API's cluster numbers them (src/api/api-cluster.ts) |
 * | worker #r (r ≥ 2) of queue i     | base + 26 + 10 (r - 2) + 2i, and the port after   |
 *
 * The API's block is reserved for MAX_PROCESSES whatever API_PROCESSES is, so a worker's ports do
 * not move when the API is scaled.
 */

export interface WorkerPorts {
  queue: TaskQueueName;
  /** 1-based: `worker:vault#2` is replica 2. */
  replica: number;
  /** Our /metrics endpoint, which also re-serves the SDK's series. */
  metrics: number;
  /** The Temporal SDK's own exporter (loopback), re-served on `metrics`. */
  sdk: number;
}

const PAIR = 2;
const FIRST_API = PAIR * ALL_QUEUES.length;
const FIRST_EXTRA_WORKER = FIRST_API + MAX_PROCESSES;

export function workerPorts(base: number, queue: TaskQueueName, replica: number): WorkerPorts {
  const i = ALL_QUEUES.indexOf(queue);
  const offset = replica === 1 ? PAIR * i : FIRST_EXTRA_WORKER + PAIR * ALL_QUEUES.length * (replica - 2) + PAIR * i;
  return { queue, replica, metrics: base + offset, sdk: base + offset + 1 };
}

/** The n-th API process's metrics port (1-based). */
export function apiMetricsPort(base: number, n = 1): number {
  return base + FIRST_API + (n - 1);
}

/** How `npm start` names a worker process: `worker:vault` when it is the only one, `worker:vault#2` among several. */
export function workerProcessName(queue: TaskQueueName, replica: number, replicas: number): string {
  return replicas === 1 ? `worker:${queue}` : `worker:${queue}#${replica}`;
}
