import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort, freePortRange } from '../helpers/ports';
import { ALL_QUEUES } from '../../src/temporal/task-queues';
import { startNodeProcess, type RunningProcess } from '../helpers/processes';
import { npmStartEnv } from '../helpers/npm-start-env';

/** The processes `npm start` spawned, by the entry point each runs. */
function childrenOf(pid: number): Map<string, number> {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  const children = new Map<string, number>();
  for (const line of out.trim().split('\n')) {
    const [, childPid, args] = /^\s*(\d+)\s+(.*)$/.exec(line) ?? [];
    const entry = /dist\/(workers\/\w+|api\/server|acquirer\/sandbox\/server|ui-proxy\/server)\.js/.exec(args ?? '')?.[1] ?? (/start-dev/.test(args ?? '') ? 'temporal' : undefined);
    if (entry && childPid) children.set(entry, Number(childPid));
  }
  return children;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readyz(port: number): Promise<{ status: number; reason?: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, reason: ((await response.json()) as { reason?: string }).reason };
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('npm start: the whole gateway from one command', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-data-'));
  let ports: { api: number; temporal: number; ui: number; acquirer: number; metrics: number };
  let gateway: RunningProcess | undefined;

  const start = () => {
    return startNodeProcess('npm-start', 'cli/start.js', npmStartEnv(ports, dataDir));
  };

  beforeAll(async () => {
    ports = { api: await freePort(), temporal: await freePort(), ui: await freePort(), acquirer: await freePort(), metrics: await freePortRange(2 * ALL_QUEUES.length + 1) }; // the workers' pairs, then the API's
  });
  afterAll(async () => {
    await gateway?.stop('SIGINT');
  });

  it('brings up the dev server, the Web UI, every worker and the API; /readyz is 200 within 60 s', async () => {
    const startedAt = Date.now();
    gateway = start();
    await gateway.waitForOutput(/\[gateway\] ready in/, 60_000);
    expect(Date.now() - startedAt).toBeLessThan(60_000);

    expect((await readyz(ports.api)).status).toBe(200);
    // The Web UI's port is the gateway's UI proxy: a page load without an ops session is sent to sign in
    // (test/integration/web-ui-browser.test.ts goes on in a browser).
    const ui = await fetch(`http://127.0.0.1:${ports.ui}/`, { headers: { Accept: 'text/html' } });
    expect({ status: ui.status, url: new URL(ui.url).pathname }).toEqual({ status: 200, url: '/ops/login' });
    expect(await ui.text()).toMatch(/<html/i);
    expect([...childrenOf(gateway.child.pid!).keys()].sort()).toEqual(
      ['acquirer/sandbox/server', 'api/server', 'temporal', 'ui-proxy/server', 'workers/acquirer', 'workers/fraud', 'workers/payments', 'workers/records', 'workers/vault'].sort(),
    );
    expect(fs.existsSync(path.join(dataDir, 'temporal.db'))).toBe(true);
  });

  it("exposes every process's metrics by default: the API's, and each worker's with the Temporal SDK's series", async () => {
    // The API's on its own port after the workers' pairs; its public port serves none.
    expect((await fetch(`http://127.0.0.1:${ports.metrics + 2 * ALL_QUEUES.length}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.api}/metrics`)).status).toBe(404);
    for (const [i, queue] of ALL_QUEUES.entries()) {
      const text = await eventually(
        async () => (await fetch(`http://127.0.0.1:${ports.metrics + 2 * i}/metrics`).catch(() => undefined))?.text(),
        (body) => body !== undefined && body.includes('temporal_worker_task_slots_available'),
      );
      expect({ queue, sdk: text!.includes(`task_queue="${queue}"`), ours: /process_cpu_seconds_total/.test(text!) }).toEqual({ queue, sdk: true, ours: true });
    }
  });

  it('a worker stopped by an operator turns /readyz to 503 naming its queue, and stays stopped', async () => {
    const fraud = childrenOf(gateway!.child.pid!).get('workers/fraud')!;
    process.kill(fraud, 'SIGTERM');
    await gateway!.waitForOutput(/worker:fraud stopped .*npm run worker:fraud/);
    // /readyz may answer from its last probe for READINESS_CACHE_MS (2 s) before it probes again.
    const down = await eventually(() => readyz(ports.api), (r) => r.status === 503, 10_000);
    expect(down.status).toBe(503);
    expect(down.reason).toMatch(/^queue:fraud: no worker picked up the fraud queue/);
  });

  it('a worker that crashes is restarted', async () => {
    const vault = childrenOf(gateway!.child.pid!).get('workers/vault')!;
    process.kill(vault, 'SIGKILL');
    await gateway!.waitForOutput(/worker:vault crashed \(SIGKILL\); restarting/);
    const restarted = await eventually(
      async () => childrenOf(gateway!.child.pid!).get('workers/vault'),
      (pid) => pid !== undefined && pid !== vault,
    );
    expect(restarted).not.toBe(vault);
    // Only the stopped fraud worker is still missing once the vault worker is back.
    const state = await eventually(() => readyz(ports.api), (r) => !/queue:vault/.test(r.reason ?? ''));
    expect(state.reason).toMatch(/^queue:fraud: /);
  });

  it('Ctrl-C stops everything cleanly: exit 0, no process left behind', async () => {
    const children = [...childrenOf(gateway!.child.pid!).values()];
    expect(children.length).toBe(8); // nine processes, fraud stopped above
    const ended = await gateway!.stop('SIGINT');
    expect(ended).toEqual({ code: 0, signal: null });
    expect(children.filter(alive)).toEqual([]);
    expect(fs.existsSync(path.join(dataDir, 'temporal-dev-server.pid'))).toBe(false);
  });

  it('workflows survive a restart: the state is in DATA_DIR/temporal.db', async () => {
    gateway = start();
    await gateway.waitForOutput(/\[gateway\] ready in/, 60_000);
    // The server's file runs in write-ahead-log mode (src/temporal/dev-server.ts): its log sits beside it.
    expect(fs.existsSync(path.join(dataDir, 'temporal.db-wal'))).toBe(true);
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const client = new Client({ connection });
      const runs: string[] = [];
      for await (const execution of client.workflow.list({ query: `WorkflowType = 'readinessWorkflow'` })) {
        runs.push(execution.workflowId);
      }
      // One readiness workflow per API process: the first run's API and this one's.
      expect(new Set(runs).size).toBeGreaterThanOrEqual(2);
    } finally {
      await connection.close();
    }
    expect(await gateway.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});
