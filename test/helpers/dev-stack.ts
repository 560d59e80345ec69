import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { connectCloseSafe } from '../../src/temporal/close-safe-connection';
import { gatewayDataConverter } from '../../src/temporal/data-converter';
import { CachingKeyProvider } from '../../src/vault/keys/data-key-cache';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import { LOCAL_PAYLOAD_KEY_ID } from '../../src/vault/keys/open-key-provider';
import { assertNoCardDataInDataDir } from './card-secret-scan';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { ALL_QUEUES, type TaskQueueName } from '../../src/temporal/task-queues';
import { freePort } from './ports';
import { startNodeProcess, type RunningProcess } from './processes';
import { temporalCliPath } from './temporal-binaries';

export interface DevStack {
  server: DevServer;
  /** A client with the gateway's data converter (payloads encrypted with the stack's master key). */
  client: Client;
  keys: CachingKeyProvider;
  dataDir: string;
  /** The environment the worker processes run with; an API under test uses the same. */
  env: NodeJS.ProcessEnv;
  workers: Map<TaskQueueName, RunningProcess>;
  /** With `workersPerQueue` > 1: the second and later worker of each queue (`workers` holds the first). */
  replicas: RunningProcess[];
  /**
   * With `metrics: true`, each worker's Prometheus endpoint: `http://127.0.0.1:<port>/metrics`
   * (its own series and the Temporal SDK's). A restarted worker keeps its ports. Empty otherwise.
   */
  metricsPorts: Map<TaskQueueName, number>;
  startWorker(queue: TaskQueueName): Promise<RunningProcess>;
  /**
   * Stops the Temporal dev server (SIGTERM) and starts it again on the same ports and database
   * file; `server` is the new one. Only with `persistent: true`: an in-memory server would come
   * back empty. Workers, the API and `client` reconnect by themselves.
   */
  restartServer(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The real thing, small: a Temporal dev server (in memory, free ports) and the project's worker
 * processes started from dist/, exactly as `npm start` runs them.
 */
export async function startDevStack(
  options: {
    queues?: TaskQueueName[];
    extraEnv?: NodeJS.ProcessEnv;
    /** Give each worker its own free METRICS_PORT and TEMPORAL_METRICS_PORT (see `metricsPorts`). Default false. */
    metrics?: boolean;
    /** Keep the server's state in a SQLite file in `dataDir`, so `restartServer()` finds every workflow again. Default false (in memory). */
    persistent?: boolean;
    /** With `persistent`: the file's pragmas (default the dev server's, DEV_SERVER_SQLITE_PRAGMAS); `[]` for SQLite's own defaults. */
    sqlitePragmas?: readonly string[];
    /** The server's `--dynamic-config-value` settings (default the dev server's, DEV_SERVER_DYNAMIC_CONFIG); `{}` for Temporal's own defaults. */
    dynamicConfig?: Readonly<Record<string, number>>;
    /** Worker processes per queue, as `npm start` with WORKERS_PER_QUEUE (README, "Scaling out"). Default 1. */
    workersPerQueue?: number;
  } = {},
): Promise<DevStack> {
  // The stack's own data directory and payload key: the test's client encrypts payloads with the
  // same key as the worker processes, as the API does.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-stack-'));
  const serverOptions = {
    binary: await temporalCliPath(),
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
    ...(options.dynamicConfig ? { dynamicConfig: options.dynamicConfig } : {}),
    ...(options.persistent ? { dbFile: path.join(dataDir, 'temporal.db'), ...(options.sqlitePragmas ? { sqlitePragmas: options.sqlitePragmas } : {}) } : {}),
  };
  let server = await startDevServer(serverOptions);
  // The payload key file every process of the stack is given (the vault worker alone has the master key).
  const keys = new CachingKeyProvider(LocalKeyProvider.open(path.join(dataDir, 'keys', 'payload-key.json'), { create: true, keyId: LOCAL_PAYLOAD_KEY_ID }));
  const connection = await connectCloseSafe({ address: server.address });
  const client = new Client({ connection, dataConverter: gatewayDataConverter(keys) });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...options.extraEnv,
  };
  const workers = new Map<TaskQueueName, RunningProcess>();
  const metricsPorts = new Map<TaskQueueName, number>();
  /** Per worker, not in `env`: the API and the other workers must not try to take the same ports. */
  const sdkMetricsPorts = new Map<TaskQueueName, number>();

  const taken = new Set<number>();
  const distinctFreePort = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const workerEnv = async (queue: TaskQueueName): Promise<NodeJS.ProcessEnv> => {
    if (!options.metrics) return env;
    if (!metricsPorts.has(queue)) {
      metricsPorts.set(queue, await distinctFreePort());
      sdkMetricsPorts.set(queue, await distinctFreePort());
    }
    return { ...env, METRICS_PORT: String(metricsPorts.get(queue)), TEMPORAL_METRICS_PORT: String(sdkMetricsPorts.get(queue)) };
  };

  const startWorker = async (queue: TaskQueueName) => {
    const worker = startNodeProcess(`worker-${queue}`, `workers/${queue}.js`, await workerEnv(queue));
    workers.set(queue, worker);
    await worker.waitForOutput(/"msg":"worker polling"/);
    return worker;
  };
  await Promise.all((options.queues ?? ALL_QUEUES).map(startWorker));
  // Further workers of a queue: same environment, their own metrics ports when metrics are on.
  const replicas: RunningProcess[] = [];
  for (let replica = 2; replica <= (options.workersPerQueue ?? 1); replica++) {
    replicas.push(
      ...(await Promise.all(
        (options.queues ?? ALL_QUEUES).map(async (queue) => {
          const ports = options.metrics ? { METRICS_PORT: String(await distinctFreePort()), TEMPORAL_METRICS_PORT: String(await distinctFreePort()) } : {};
          const worker = startNodeProcess(`worker-${queue}-${replica}`, `workers/${queue}.js`, { ...env, ...ports });
          await worker.waitForOutput(/"msg":"worker polling"/);
          return worker;
        }),
      )),
    );
  }

  return {
    get server() {
      return server;
    },
    client,
    keys,
    dataDir,
    env,
    workers,
    replicas,
    metricsPorts,
    startWorker,
    async restartServer() {
      if (!options.persistent) throw new Error('restartServer() needs startDevStack({ persistent: true }): an in-memory server would lose every workflow');
      await server.stop();
      server = await startDevServer(serverOptions);
    },
    async stop() {
      await Promise.all([...workers.values(), ...replicas].map((w) => w.stop()));
      await connection.close();
      await server.stop();
      // The stack's databases (vault, records, Temporal's if persistent), scanned bare before they go.
      assertNoCardDataInDataDir(dataDir);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
