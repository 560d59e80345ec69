import { SignJWT } from 'jose';
import { devSecret } from '../../src/api/auth/auth-config';
import { ENCRYPTED_ENCODING } from '../../src/temporal/payload-codec';
import { TASK_QUEUES } from '../../src/temporal/task-queues';
import { readinessWorkflow } from '../../src/workflows';
import { startDevStack, type DevStack } from '../helpers/dev-stack';
import { payloadsIn } from '../helpers/leak-scan';
import { freePort } from '../helpers/ports';
import { startNodeProcess, type RunningProcess } from '../helpers/processes';


const b64 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('base64');

describe('Temporal payload encryption (real dev server, real worker processes)', () => {
  let stack: DevStack;
  let api: RunningProcess;
  let port: number;
  let uiPort: number;
  let opsAuth: string;
  let merchantAuth: string;

  beforeAll(async () => {
    stack = await startDevStack();
    port = await freePort();
    uiPort = stack.server.uiUrl.split(':').map(Number).at(-1)!;
    api = startNodeProcess('api-codec', 'api/server.js', { ...stack.env, PORT: String(port), TEMPORAL_UI_PORT: String(uiPort) });
    await api.waitForOutput(/API listening/);
    // The API's development signing secret, created in the stack's DATA_DIR at its start.
    const secret = new TextEncoder().encode(devSecret(stack.dataDir).secret);
    const sign = (subject: string, scope: string, audience: string | string[] = 'card-gateway-api') =>
      new SignJWT({ scope }).setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setIssuer('card-gateway-dev').setAudience(audience).setExpirationTime('1h').sign(secret);
    // An operator's browser token is also for the ops audience (npm run token -- --scope ops).
    opsAuth = `Bearer ${await sign('alice', 'ops', ['card-gateway-api', 'card-gateway-ops'])}`;
    merchantAuth = `Bearer ${await sign('m_1', 'payments:read payments:write')}`;
  });
  afterAll(async () => {
    await api?.stop();
    await stack?.stop();
  });

  it("Temporal's history holds only ciphertext, and the codec endpoint decodes it for the Web UI", async () => {
    const workflowId = `codec-${Date.now()}`;
    const checks = await stack.client.workflow.execute(readinessWorkflow, {
      taskQueue: TASK_QUEUES.payments,
      workflowId,
      args: [{ pingTimeoutMs: 3000 }],
    });
    expect(checks.every((c) => c.ok)).toBe(true); // the worker processes encode and decode with the same keys

    const history = await stack.client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId },
    });
    const payloads = payloadsIn(history.history);
    expect(payloads.length).toBeGreaterThanOrEqual(5); // workflow input and result, three activity results
    for (const payload of payloads) {
      expect(Buffer.from(payload.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
      expect(Buffer.from(payload.data!).toString('latin1')).not.toMatch(/pingTimeoutMs|answered by|taskQueue/);
    }

    const response = await fetch(`http://127.0.0.1:${port}/codec/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Authorization: opsAuth },
      body: JSON.stringify({ payloads: payloads.map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(p.data) })) }),
    });
    expect(response.status).toBe(200);
    const decoded = (await response.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    const texts = decoded.payloads.map((p) => Buffer.from(p.data, 'base64').toString());
    expect(decoded.payloads.every((p) => Buffer.from(p.metadata.encoding!, 'base64').toString() === 'json/plain')).toBe(true);
    expect(texts).toContain('{"pingTimeoutMs":3000}');
  });

  it('decodes for operators only: no token is 401, a merchant token is 403', async () => {
    const decode = (auth?: string) =>
      fetch(`http://127.0.0.1:${port}/codec/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: auth } : {}) },
        body: JSON.stringify({ payloads: [] }),
      });
    expect((await decode()).status).toBe(401);
    const merchant = await decode(merchantAuth);
    expect(merchant.status).toBe(403);
    expect(((await merchant.json()) as { error: { code: string } }).error.code).toBe('insufficient_scope');
    expect((await decode(opsAuth)).status).toBe(200);
  });

  it("an operator's browser signs in once; the Web UI's credentialed codec calls then carry the ops cookie", async () => {
    const form = (token: string) =>
      fetch(`http://127.0.0.1:${port}/ops/session`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: `http://127.0.0.1:${port}` },
        body: new URLSearchParams({ token }).toString(),
      });
    expect((await fetch(`http://127.0.0.1:${port}/ops/login`)).status).toBe(200);
    expect((await form(merchantAuth.replace('Bearer ', ''))).status).toBe(403);
    expect((await form('not-a-token')).status).toBe(401);
    // The session check the UI proxy asks: the cookie counts as the token, and only an ops one.
    const session = (cookie: string) => fetch(`http://127.0.0.1:${port}/ops/session`, { headers: { Cookie: cookie } });
    expect((await session('')).status).toBe(401);
    expect((await session(`gateway_ops=${merchantAuth.replace('Bearer ', '')}`)).status).toBe(403);
    const signedIn = await form(opsAuth.replace('Bearer ', ''));
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.headers.get('set-cookie')!;
    // Strict: the Web UI reaches /codec on its own origin through the UI proxy; `/`: the proxy checks it on every page.
    expect(cookie).toMatch(/^gateway_ops=[^;]+; Max-Age=\d+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Strict$/);
    const decoded = await fetch(`http://127.0.0.1:${port}/codec/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: `http://localhost:${uiPort}`, Cookie: cookie.split(';')[0]! },
      body: JSON.stringify({ payloads: [] }),
    });
    expect(decoded.status).toBe(200);
    expect(await (await session(cookie.split(';')[0]!)).json()).toEqual({ subject: 'alice' });
    expect(decoded.headers.get('access-control-allow-origin')).toBe(`http://localhost:${uiPort}`);
    expect(decoded.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('answers the Web UI origin CORS preflight, and no other origin', async () => {
    const preflight = (origin: string) =>
      fetch(`http://127.0.0.1:${port}/codec/decode`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
      });
    const ui = await preflight(`http://localhost:${uiPort}`);
    expect(ui.status).toBe(204);
    expect(ui.headers.get('access-control-allow-origin')).toBe(`http://localhost:${uiPort}`);
    expect(ui.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
    const stranger = await preflight('https://evil.example');
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses altered payloads and malformed requests with the API error shape', async () => {
    const bad = await fetch(`http://127.0.0.1:${port}/codec/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: opsAuth },
      body: JSON.stringify({ payloads: [{ metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING).toString('base64') }, data: 'AAAA' }] }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.objectContaining({ type: 'invalid_request_error', code: 'undecodable_payload' }) });
    const malformed = await fetch(`http://127.0.0.1:${port}/codec/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: opsAuth },
      body: JSON.stringify({ payloads: 'nope' }),
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { param: string } }).error.param).toBe('payloads');
  });
});
