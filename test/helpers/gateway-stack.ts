import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { SignJWT } from 'jose';
import { startAcquirerSandbox, type AcquirerSandbox } from './acquirer-sandbox';
import { EncryptionCodec } from '../../src/temporal/payload-codec';
import { startDevStack, type DevStack } from './dev-stack';
import { HistoryRecorder } from './history-recorder';
import { freePort, freePortRange } from './ports';
import { startNodeProcess, type RunningProcess } from './processes';

/**
 * The whole gateway as `npm start` runs it, on free ports: the Temporal dev server, the acquirer
 * sandbox, the four worker processes and the API process, all real. Tests drive it over HTTP.
 */
export interface GatewayStack {
  apiUrl: string;
  /** With `metrics`: the (first) API process's own Prometheus listener (METRICS_PORT), e.g. http://127.0.0.1:4567/metrics. */
  apiMetricsUrl?: string;
  api: RunningProcess;
  stack: DevStack;
  sandbox: AcquirerSandbox;
  /**
   * Sends a request to the API with a bearer token for `merchant` (default `m_test`, the merchant
   * scopes) or for `operator` (the `ops` scope); `merchant: ''` sends no token. JSON in and out.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field in tests
  request(method: string, path: string, options?: { merchant?: string; operator?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  /** The API's HS256 secret, for tests that forge tokens on purpose. */
  jwtSecret: string;
  /** A token the API accepts, for tests that build their own requests. */
  token(subject: string, scopes: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startGatewayStack(
  options: {
    env?: NodeJS.ProcessEnv;
    sandboxEnv?: NodeJS.ProcessEnv;
    /** Each worker serves /metrics on its own port: `stack.metricsPorts` (see startDevStack). Default false. */
    metrics?: boolean;
    /** The Temporal dev server on a database file, so `stack.restartServer()` keeps every payment. Default false. */
    persistent?: boolean;
    /** With `persistent`: the server file's pragmas (see startDevStack). */
    sqlitePragmas?: readonly string[];
    /** The server's dynamic configuration (see startDevStack); `{}` for Temporal's defaults. */
    dynamicConfig?: Readonly<Record<string, number>>;
    /** Worker processes per queue (see startDevStack). Default 1. */
    workersPerQueue?: number;
    /** API processes sharing the port (API_PROCESSES, src/api/api-cluster.ts). Default 1. */
    apiProcesses?: number;
  } = {},
): Promise<GatewayStack> {
  const sandbox = await startAcquirerSandbox(options.sandboxEnv);
  const jwtSecret = randomBytes(32).toString('base64url');
  const env: NodeJS.ProcessEnv = {
    ACQUIRER_URL: sandbox.url,
    JWT_SECRET: jwtSecret,
    // The sweeper would only add noise to tests that check the CVV is purged by the workflow.
    CVV_SWEEP_INTERVAL_SECONDS: '3600',
    // Load and fault tests poll hard as one merchant from one address; the limits themselves are tested in edge-middleware.test.ts.
    RATE_LIMIT_PER_MINUTE: '1000000',
    CLIENT_RATE_LIMIT_PER_MINUTE: '1000000',
    ...options.env,
  };
  const stack = await startDevStack({ extraEnv: env, metrics: options.metrics, persistent: options.persistent, workersPerQueue: options.workersPerQueue, ...(options.sqlitePragmas ? { sqlitePragmas: options.sqlitePragmas } : {}), ...(options.dynamicConfig ? { dynamicConfig: options.dynamicConfig } : {}) });
  const port = await freePort();
  const apiProcesses = options.apiProcesses ?? 1;
  // Several API processes serve metrics on consecutive ports from METRICS_PORT.
  const metricsPort = options.metrics ? (apiProcesses > 1 ? await freePortRange(apiProcesses) : await freePort()) : undefined;
  const api = startNodeProcess('api', 'api/server.js', { ...stack.env, PORT: String(port), API_PROCESSES: String(apiProcesses), ...(metricsPort ? { METRICS_PORT: String(metricsPort), METRICS_HOST: '127.0.0.1' } : {}) });
  await api.waitForOutput(/API listening/);
  // A cluster's processes each say so; wait for all of them, so each takes its share from the first request.
  for (const deadline = Date.now() + 60_000; apiProcesses > 1 && (fs.readFileSync(api.logFile, 'utf8').match(/API listening/g)?.length ?? 0) < apiProcesses; ) {
    if (Date.now() > deadline) throw new Error(`only some of the ${apiProcesses} API processes are listening after 60 s (${api.logFile})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const apiUrl = `http://127.0.0.1:${port}`;
  const token = (subject: string, scopes: string[]) =>
    new SignJWT({ scope: scopes.join(' ') })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject)
      .setIssuer('card-gateway-dev')
      .setAudience('card-gateway-api')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(jwtSecret));
  return {
    jwtSecret,
    token,
    apiUrl,
    ...(metricsPort ? { apiMetricsUrl: `http://127.0.0.1:${metricsPort}/metrics` } : {}),
    api,
    stack,
    sandbox,
    async request(method, path, { merchant = 'm_test', operator, body, headers = {} } = {}) {
      const bearer = operator ? await token(operator, ['ops']) : merchant ? await token(merchant, ['payments:write', 'payments:read', 'refunds:write']) : undefined;
      const response = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text, the test will say so
      }
      return { status: response.status, body: parsed };
    },
    async stop() {
      await api.stop();
      await recordHistories(stack);
      await stack.stop();
      await sandbox.stop();
    },
  };
}

/**
 * With RECORD_HISTORIES set (`npm run histories:record`), records every closed payment workflow
 * this stack ran for the replay tests: the real-stack paths (unknown outcomes, inquiries,
 * reversals, cancels mid-call) the time-skipping suite does not reach.
 */
async function recordHistories(stack: DevStack): Promise<void> {
  const recorder = HistoryRecorder.fromEnv(stack.client, new EncryptionCodec(stack.keys));
  if (!recorder) return;
  for await (const execution of stack.client.workflow.list({ query: `WorkflowType = 'paymentWorkflow' AND ExecutionStatus != 'Running'` })) {
    recorder.track(execution.workflowId, execution.runId);
  }
  const recorded = await recorder.record();
  console.log(`Recorded ${recorded.written.length} history file(s) into ${recorder.dir} from ${recorded.executions} payment(s) of the gateway stack; ${recorded.duplicates} path(s) already recorded`);
}
