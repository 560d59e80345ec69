/**
 * `npm start`: the whole gateway in one terminal (README, "Running it").
 *
 * Without TEMPORAL_ADDRESS it provisions and starts the embedded Temporal dev server (state in
 * DATA_DIR/temporal.db), its Web UI on an internal loopback port behind the gateway's UI proxy on
 * TEMPORAL_UI_PORT (src/ui-proxy); with it, it connects to that cluster instead.
 * Then WORKERS_PER_QUEUE worker processes per task queue (default one), and the API as
 * API_PROCESSES processes sharing PORT (README, "Scaling out"). Ctrl-C stops them in the order that
 * loses nothing: the API (no new payments), the workers (in-flight tasks finish), the sandbox, the server last.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connectCloseSafe } from '../temporal/close-safe-connection';
import { loadEnv } from '../config/env';
import { resolveTemporalBinary } from '../temporal/binaries/resolve';
import { temporalAddress, temporalCredentials } from '../temporal/connection';
import { startDevServer, type DevServer } from '../temporal/dev-server';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { ALL_QUEUES, type TaskQueueName } from '../temporal/task-queues';
import { apiMetricsPort, workerPorts, workerProcessName } from './metrics-ports';
import { ManagedProcess } from './managed-process';
import { processEnv } from './process-keys';

const log = (line: string) => process.stdout.write(`[gateway] ${line}\n`);

async function main(): Promise<void> {
  const env = loadEnv();
  const startedAt = Date.now();
  fs.mkdirSync(env.DATA_DIR, { recursive: true });

  let devServer: DevServer | undefined;
  let address = env.TEMPORAL_ADDRESS;
  if (address === undefined) {
    const cli = await resolveTemporalBinary('cli', { log });
    log(`starting the Temporal dev server (${cli.path}), state in ${path.join(env.DATA_DIR, 'temporal.db')}`);
    devServer = await startDevServer({
      binary: cli.path,
      port: env.TEMPORAL_DEV_PORT,
      // Operators reach the UI only through the UI proxy on TEMPORAL_UI_PORT, which requires an ops session.
      uiPort: await freeLoopbackPort(),
      dbFile: path.join(env.DATA_DIR, 'temporal.db'),
      pidFile: path.join(env.DATA_DIR, 'temporal-dev-server.pid'),
      namespace: env.TEMPORAL_NAMESPACE,
      // The Web UI asks the API to decode payloads, so operators see payment state, not ciphertext.
      // Relative: the proxy serves /codec on the UI's own origin, whatever host name the browser used.
      uiCodecEndpoint: '/codec',
      output: 'inherit',
    });
    address = devServer.address;
  } else {
    log(`using the Temporal cluster at ${address} (no embedded server)`);
    await registerSearchAttributes(env).catch((err: Error) =>
      log(`could not register the payment search attributes (${err.message}); run npm run temporal:setup once the cluster is up`),
    );
  }

  const childEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: address,
    // The workers reach the sandbox started below unless a real acquirer is configured.
    ACQUIRER_URL: process.env.ACQUIRER_URL || `http://127.0.0.1:${env.ACQUIRER_SANDBOX_PORT}`,
    GATEWAY_SUPERVISOR_PID: String(process.pid),
  };
  // The acquirer sandbox stands in for a card acquirer on this machine (README, "Test cards"). One
  // only, whatever the scale: it is the acquirer's side, with a ledger file of its own.
  // Each process gets only the key files its role needs (./process-keys.ts).
  const sandbox = new ManagedProcess({ name: 'acquirer-sandbox', script: path.join(__dirname, '..', 'acquirer', 'sandbox', 'server.js'), env: processEnv('acquirer-sandbox', childEnv, env), log });
  // WORKERS_PER_QUEUE processes poll each queue (README, "Scaling out"); each has its own metrics ports (./metrics-ports.ts).
  const replicas = Array.from({ length: env.WORKERS_PER_QUEUE }, (_, i) => i + 1);
  const workers = ALL_QUEUES.flatMap((queue) =>
    replicas.map(
      (replica) =>
        new ManagedProcess({
          name: workerProcessName(queue, replica, env.WORKERS_PER_QUEUE),
          npmScript: `worker:${queue}`,
          script: path.join(__dirname, '..', 'workers', `${queue}.js`),
          env: { ...processEnv(queue, childEnv, env), ...workerMetricsEnv(env.WORKER_METRICS_BASE_PORT, queue, replica) },
          log,
        }),
    ),
  );
  // One child for the API whatever API_PROCESSES is: with more than one, it is the node:cluster
  // primary of that many API processes sharing PORT (src/api/api-cluster.ts says why cluster), so
  // the supervisor still stops "the API" first as one. Its metrics have their own ports after the
  // first workers' (never the public PORT); the primary numbers its processes' from there.
  const api = new ManagedProcess({
    name: 'api',
    script: path.join(__dirname, '..', 'api', 'server.js'),
    env: { ...processEnv('api', childEnv, env), API_PROCESSES: String(env.API_PROCESSES), ...apiMetricsEnv(env.WORKER_METRICS_BASE_PORT) },
    log,
  });
  // The Web UI, the codec endpoint and the ops sign-in on one origin (README, "Operator guide").
  const uiProxy = devServer
    ? new ManagedProcess({
        name: 'ui-proxy',
        script: path.join(__dirname, '..', 'ui-proxy', 'server.js'),
        env: { ...processEnv('ui-proxy', childEnv, env), UI_PROXY_PORT: String(env.TEMPORAL_UI_PORT), UI_PROXY_API_URL: `http://127.0.0.1:${env.PORT}`, UI_PROXY_TEMPORAL_UI_URL: devServer.uiUrl.replace('localhost', '127.0.0.1') },
        log,
      })
    : undefined;
  uiProxy?.start();
  for (const child of [sandbox, ...workers, api]) child.start();
  if (env.WORKER_METRICS_BASE_PORT > 0) log(`metrics: ${metricsBanner(env)} (/metrics; the workers' with the Temporal SDK's series)`);

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`${signal}: stopping the API, then the workers, then Temporal`);
    await Promise.all([api.stop(10_000), uiProxy?.stop(5_000)]);
    await Promise.all(workers.map((worker) => worker.stop(30_000)));
    await sandbox.stop(10_000); // the sandbox last, so workers finishing a call still reach it
    await devServer?.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  const apiUrl = `http://localhost:${env.PORT}`;
  log(`API ${apiUrl} · readiness ${apiUrl}/readyz${devServer ? ` · Temporal Web UI http://localhost:${env.TEMPORAL_UI_PORT} (sign in with an ops token)` : ''}`);
  await announceReadiness(apiUrl, startedAt, () => shuttingDown);
}

async function registerSearchAttributes(env: ReturnType<typeof loadEnv>): Promise<void> {
  const connection = await connectCloseSafe({ address: temporalAddress(env), ...temporalCredentials(env) });
  try {
    const added = await ensureSearchAttributes(connection, env.TEMPORAL_NAMESPACE);
    if (added.length) log(`registered search attributes: ${added.join(', ')}`);
  } finally {
    await connection.close();
  }
}

/** Tells the person at the terminal when the gateway can take payments, and how long it took. */
async function announceReadiness(apiUrl: string, startedAt: number, cancelled: () => boolean): Promise<void> {
  let lastReason = '';
  while (!cancelled() && Date.now() - startedAt < 120_000) {
    try {
      const response = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(15_000) });
      const body = (await response.json()) as { reason?: string };
      if (response.ok) {
        log(`ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
        return;
      }
      lastReason = body.reason ?? `status ${response.status}`;
    } catch (err) {
      lastReason = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  if (!cancelled()) log(`not ready after 120 s: ${lastReason}`);
}

main().catch((err: Error) => {
  process.stderr.write(`[gateway] ${err.message}\n`);
  process.exit(1);
});

/** A worker's metrics ports (./metrics-ports.ts): its own endpoint, and the SDK exporter it re-serves. */
function workerMetricsEnv(base: number, queue: TaskQueueName, replica: number): Record<string, string> {
  if (base === 0) return {};
  const ports = workerPorts(base, queue, replica);
  return { METRICS_PORT: String(ports.metrics), TEMPORAL_METRICS_PORT: String(ports.sdk) };
}

/** Every process's metrics port, for the start banner: `api :9474, api#2 :9475; payments :9464, …, vault#2 :9492, …`. */
function metricsBanner(env: ReturnType<typeof loadEnv>): string {
  const base = env.WORKER_METRICS_BASE_PORT;
  const apis = Array.from({ length: env.API_PROCESSES }, (_, i) => `${i === 0 ? 'api' : `api#${i + 1}`} :${apiMetricsPort(base, i + 1)}`);
  const workers = Array.from({ length: env.WORKERS_PER_QUEUE }, (_, r) => r + 1).flatMap((replica) =>
    ALL_QUEUES.map((queue) => `${workerProcessName(queue, replica, env.WORKERS_PER_QUEUE).replace(/^worker:/, '')} :${workerPorts(base, queue, replica).metrics}`),
  );
  return `${apis.join(', ')}; ${workers.join(', ')}`;
}

/** A loopback port that was free a moment ago, for the dev server's own UI behind the proxy. */
async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The first API process's metrics port under `npm start`; the API's cluster numbers the others after it. */
function apiMetricsEnv(base: number): Record<string, string> {
  if (base === 0) return {};
  return { METRICS_PORT: String(apiMetricsPort(base)) };
}
