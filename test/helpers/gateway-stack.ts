import { startAcquirerSandbox, type AcquirerSandbox } from './acquirer-sandbox';
import { startDevStack, type DevStack } from './dev-stack';
import { freePort } from './ports';
import { startNodeProcess, type RunningProcess } from './processes';

/**
 * The whole gateway as `npm start` runs it, on free ports: the Temporal dev server, the acquirer
 * sandbox, the four worker processes and the API process, all real. Tests drive it over HTTP.
 */
export interface GatewayStack {
  apiUrl: string;
  api: RunningProcess;
  stack: DevStack;
  sandbox: AcquirerSandbox;
  /** Sends a request to the API as a merchant; JSON in and out. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field in tests
  request(method: string, path: string, options?: { merchant?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startGatewayStack(options: { env?: NodeJS.ProcessEnv; sandboxEnv?: NodeJS.ProcessEnv } = {}): Promise<GatewayStack> {
  const sandbox = await startAcquirerSandbox(options.sandboxEnv);
  const env: NodeJS.ProcessEnv = {
    ACQUIRER_URL: sandbox.url,
    // The sweeper would only add noise to tests that check the CVV is purged by the workflow.
    CVV_SWEEP_INTERVAL_SECONDS: '3600',
    ...options.env,
  };
  const stack = await startDevStack({ extraEnv: env });
  const port = await freePort();
  const api = startNodeProcess('api', 'api/server.js', { ...stack.env, PORT: String(port) });
  await api.waitForOutput(/API listening/);
  const apiUrl = `http://127.0.0.1:${port}`;
  return {
    apiUrl,
    api,
    stack,
    sandbox,
    async request(method, path, { merchant = 'm_test', body, headers = {} } = {}) {
      const response = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          ...(merchant ? { 'X-Merchant-Id': merchant } : {}),
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
      await stack.stop();
      await sandbox.stop();
    },
  };
}
