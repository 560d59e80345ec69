import os from 'node:os';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { loadEnv, type Env } from '../config/env';
import { createLogger, type Logger } from '../logging/logger';
import { instrumentActivities } from '../observability/instrument-activities';
import { Metrics } from '../observability/metrics';
import { sdkPrometheusExporter, startMetricsServer } from '../observability/metrics-server';
import { onShutdown } from '../process/lifecycle';
import { temporalAddress, temporalCredentials } from '../temporal/connection';
import { gatewayDataConverter } from '../temporal/data-converter';
import { TASK_QUEUES, type TaskQueueName } from '../temporal/task-queues';
import type { CachingKeyProvider } from '../vault/keys/data-key-cache';
import { openPayloadKeyProvider } from '../vault/keys/open-key-provider';

export type WorkerRole = Pick<WorkerOptions, 'activities' | 'workflowsPath' | 'workflowBundle' | 'sinks'> & {
  /** Releases what the role opened (database, timers) once the worker has drained. */
  close?: () => Promise<void>;
  /** Runs once the worker polls (Temporal is reachable), e.g. to ensure a schedule; a failure is logged, not fatal. */
  onPolling?: () => Promise<void>;
};

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** A worker for one queue registers only workflows or only activities; the SDK warns about that. */
const EXPECTED_SDK_NOTICES = /^No (workflows|activities|Nexus services) registered/;

/**
 * Runs one worker process for one task queue (DESIGN.md §2: one worker per queue, each with only
 * the credentials its queue needs). Shared by every entry point under src/workers.
 *
 * Shutdown is ours, not the SDK's: the SDK's default handler stops listening after the first
 * signal, so a second SIGINT/SIGTERM would kill the process in the middle of its graceful
 * shutdown. `onShutdown` ignores every signal after the first.
 */
export async function runWorkerProcess(
  queue: TaskQueueName,
  /** `keys` is the Temporal payload key provider: it opens payloads, never card data. */
  role: (context: { env: Env; logger: Logger; keys: CachingKeyProvider; metrics: Metrics }) => WorkerRole | Promise<WorkerRole>,
): Promise<void> {
  const env = loadEnv();
  const logger = createLogger({ name: `worker:${queue}`, level: env.LOG_LEVEL });
  const sdkMetricsPort = env.METRICS_PORT === undefined ? undefined : (env.TEMPORAL_METRICS_PORT ?? env.METRICS_PORT + 1);
  Runtime.install({
    shutdownSignals: [],
    logger: new DefaultLogger(env.LOG_LEVEL === 'silent' ? 'ERROR' : 'WARN', (entry) => {
      if (EXPECTED_SDK_NOTICES.test(entry.message)) return;
      logger[PINO_LEVEL[entry.level]]({ ...entry.meta, sdk: true }, entry.message);
    }),
    // The SDK's native core logs through the same pino logger, as JSON lines like ours.
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} },
      // The SDK's own worker metrics, re-served with ours on METRICS_PORT.
      ...(sdkMetricsPort === undefined ? {} : { metrics: sdkPrometheusExporter(sdkMetricsPort) }),
    },
  });

  // Every worker encrypts Temporal payloads with the payload key; only the vault worker opens card keys (src/workers/vault.ts).
  const keys = await openPayloadKeyProvider(env);
  const metrics = new Metrics();
  const { close, onPolling, activities, ...options } = await role({ env, logger, keys, metrics });
  const metricsServer =
    env.METRICS_PORT === undefined
      ? undefined
      : await startMetricsServer(metrics, env.METRICS_PORT, { sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics` });
  if (metricsServer) logger.info({ port: metricsServer.port }, 'metrics at /metrics');
  const address = temporalAddress(env);
  const connection = await connectWithRetry(address, env, logger);
  const worker = await Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: TASK_QUEUES[queue],
    identity: `${queue}@${os.hostname()}:${process.pid}`,
    // Workers refuse what reaches them unencrypted (DESIGN.md §3a: Temporal is not a side door).
    dataConverter: gatewayDataConverter(keys, { refuseUnencrypted: true }),
    ...options,
    ...(activities === undefined ? {} : { activities: instrumentActivities(activities, metrics) }),
  });

  onShutdown((reason) => {
    logger.info({ reason }, 'worker shutting down: finishing in-flight tasks');
    worker.shutdown();
  });

  logger.info({ address, namespace: env.TEMPORAL_NAMESPACE, taskQueue: TASK_QUEUES[queue] }, 'worker polling');
  onPolling?.().catch((err: Error) => logger.warn({ err: err.message }, 'start-up task failed'));
  try {
    await worker.run();
  } finally {
    await connection.close();
    await close?.();
    await metricsServer?.close();
  }
  logger.info('worker stopped');
}

/**
 * Workers usually start beside the server (npm start, docker compose); waiting for it here saves
 * every deployment from ordering tricks. Gives up after a minute with the reason.
 */
async function connectWithRetry(address: string, env: Env, logger: Logger): Promise<NativeConnection> {
  const deadline = Date.now() + 60_000;
  for (let delay = 250; ; delay = Math.min(delay * 2, 4_000)) {
    try {
      return await NativeConnection.connect({ address, ...temporalCredentials(env) });
    } catch (err) {
      if (Date.now() + delay > deadline) {
        throw new Error(`Temporal is not reachable at ${address}: ${(err as Error).message}`);
      }
      logger.debug({ address, err: (err as Error).message }, 'waiting for Temporal');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
