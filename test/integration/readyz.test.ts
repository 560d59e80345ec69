import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { startDevStack, type DevStack } from '../helpers/dev-stack';
import { freePort } from '../helpers/ports';
import { startNodeProcess, type RunningProcess } from '../helpers/processes';

interface ReadyzBody {
  status: 'ready' | 'unavailable';
  reason?: string;
  checks: { component: string; ok: boolean; detail: string }[];
}

async function readyz(port: number): Promise<{ status: number; body: ReadyzBody }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadyzBody };
}

describe('GET /readyz against a real dev server and real worker processes', () => {
  let stack: DevStack;
  let api: RunningProcess;
  let port: number;

  beforeAll(async () => {
    stack = await startDevStack();
    port = await freePort();
    // No reuse of answers here: these tests stop a worker and expect the very next probe to see it.
    api = startNodeProcess('api', 'api/server.js', { ...stack.env, PORT: String(port), READINESS_TIMEOUT_MS: '3000', READINESS_CACHE_MS: '0' });
    await api.waitForOutput(/API listening/);
  });
  afterAll(async () => {
    await api?.stop();
    await stack?.stop();
  });

  it('GET /healthz answers without touching Temporal', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('is 200 when Temporal and every queue answer', async () => {
    const { status, body } = await readyz(port);
    expect(status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.checks.map((c) => c.component)).toEqual(['temporal', 'queue:payments', 'queue:vault', 'queue:fraud', 'queue:acquirer', 'queue:records']);
    expect(body.checks.every((c) => c.ok)).toBe(true);
    // /readyz is public: which worker answered is said without its host:pid.
    expect(JSON.stringify(body)).not.toContain(`${os.hostname()}:`);
    expect(body.checks.find((c) => c.component === 'queue:vault')!.detail).toBe('answered by worker [internal address]');
  });

  it('is 503 naming the queue when its worker is stopped, and 200 again when it is back', async () => {
    const stopped = await stack.workers.get('acquirer')!.stop('SIGTERM');
    expect(stopped).toEqual({ code: 0, signal: null }); // a graceful shutdown, not a crash
    const down = await readyz(port);
    expect(down.status).toBe(503);
    expect(down.body.reason).toBe('queue:acquirer: no worker picked up the acquirer queue within 1800 ms');
    expect(down.body.checks.filter((c) => !c.ok).map((c) => c.component)).toEqual(['queue:acquirer']);

    await stack.startWorker('acquirer');
    expect((await readyz(port)).status).toBe(200);
  });

  it('is 503 naming the payments queue when no workflow worker runs', async () => {
    await stack.workers.get('payments')!.stop('SIGTERM');
    const down = await readyz(port);
    expect(down.status).toBe(503);
    expect(down.body.reason).toBe('queue:payments: no worker ran the readiness workflow within 3000 ms');
    await stack.startWorker('payments');
    expect((await readyz(port)).status).toBe(200);
  });

  it('a flood of /readyz cannot start a flood of workflows: probes never overlap and an answer is reused for READINESS_CACHE_MS', async () => {
    const runsOf = async (workflowId: string) => {
      let runs = 0;
      for await (const _ of stack.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs += 1;
      return runs;
    };
    const floodPort = await freePort();
    const flooded = startNodeProcess('api-readyz-flood', 'api/server.js', { ...stack.env, PORT: String(floodPort), READINESS_CACHE_MS: '60000' });
    try {
      await flooded.waitForOutput(/API listening/);
      const workflowId = `readiness-${os.hostname()}-${flooded.child.pid}`;
      // 200 concurrent requests, then 100 one after another: one probe answers them all.
      const concurrent = await Promise.all(Array.from({ length: 200 }, () => readyz(floodPort)));
      const sequential: number[] = [];
      for (let i = 0; i < 100; i++) sequential.push((await readyz(floodPort)).status);
      expect([...concurrent.map((r) => r.status), ...sequential].every((s) => s === 200)).toBe(true);
      // Visibility is eventually consistent: wait for the run to be listed, then count.
      const deadline = Date.now() + 10_000;
      while ((await runsOf(workflowId)) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      const runs = await runsOf(workflowId);
      console.log(`readyz flood: 300 requests started ${runs} readiness workflow run(s)`);
      expect(runs).toBe(1);
    } finally {
      await flooded.stop();
    }
  });

  it('serves HTTPS when a certificate and key are configured', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'api-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    const tlsPort = await freePort();
    const secure = startNodeProcess('api-tls', 'api/server.js', {
      ...stack.env,
      PORT: String(tlsPort),
      API_TLS_CERT: path.join(dir, 'cert.pem'),
      API_TLS_KEY: path.join(dir, 'key.pem'),
    });
    try {
      await secure.waitForOutput(/API listening on https:/);
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: tlsPort, path: '/healthz', ca: fs.readFileSync(path.join(dir, 'cert.pem')) }, (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      expect(JSON.parse(body)).toEqual({ status: 'ok' });
    } finally {
      await secure.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is 503 naming Temporal when the server is unreachable', async () => {
    const lonelyPort = await freePort();
    const nowhere = `127.0.0.1:${await freePort()}`;
    const lonely = startNodeProcess('api-no-temporal', 'api/server.js', {
      ...stack.env,
      PORT: String(lonelyPort),
      TEMPORAL_ADDRESS: nowhere,
      READINESS_TIMEOUT_MS: '2000',
    });
    try {
      await lonely.waitForOutput(/API listening/);
      const down = await readyz(lonelyPort);
      expect(down.status).toBe(503);
      expect(down.body.checks).toHaveLength(1);
      expect(down.body.checks[0]).toMatchObject({ component: 'temporal', ok: false });
      expect(down.body.reason).toMatch(/^temporal: /);
      // Whatever gRPC said, the Temporal address is not told to the public.
      expect(JSON.stringify(down.body)).not.toContain(nowhere);
    } finally {
      await lonely.stop();
    }
  });
});
