import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { SignJWT } from 'jose';
import { loadAuthConfig } from '../../src/api/auth/auth-config';
import { authenticate } from '../../src/api/auth/middleware';
import { createTokenVerifier } from '../../src/api/auth/verify-token';
import { errorHandler } from '../../src/api/errors';
import { OPS_AUDIENCE, opsSessionRoutes } from '../../src/api/routes/ops-session';
import { createLogger } from '../../src/logging/logger';
import { createUiProxy } from '../../src/ui-proxy/ui-proxy';

/**
 * The UI proxy's own logic over real HTTP on loopback: in front of the API's real sign-in routes
 * (real token verification), and of a plain server standing in for the Temporal UI server so the
 * test can see what reaches it. The whole path in a browser: test/integration/web-ui-browser.test.ts.
 */
const SECRET = 'a-development-secret-of-at-least-32-chars!';
const logger = createLogger({ name: 'ui-proxy-test', level: 'silent' });
const sign = (subject: string, scope: string, expiresIn = '1h') =>
  new SignJWT({ scope })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuer('card-gateway-dev')
    // An operator's token for the browser carries the ops audience (src/api/routes/ops-session.ts).
    .setAudience(['card-gateway-api', OPS_AUDIENCE])
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(SECRET));

async function listen(handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('the UI proxy: /ops and /codec to the API, the Temporal UI behind an ops session', () => {
  const servers: http.Server[] = [];
  let proxyUrl: string;
  let apiUrl: string;
  let sessionChecks = 0;
  let clock = 1_000_000; // the session cache's clock (createUiProxy's `clock`)
  const reachedUi: http.IncomingHttpHeaders[] = [];
  let uiAnswers = true;

  beforeAll(async () => {
    const verifier = createTokenVerifier(loadAuthConfig({ JWT_SECRET: SECRET }, fs.mkdtempSync(path.join(os.tmpdir(), 'ui-proxy-auth-'))));
    const api = express();
    api.use('/ops/session', (req, _res, next) => {
      if (req.method === 'GET') sessionChecks++;
      next();
    });
    api.use(opsSessionRoutes(verifier, authenticate(verifier)));
    api.post('/codec/decode', (_req, res) => void res.json({ payloads: [] }));
    api.use(errorHandler(logger));
    const apiServer = await listen(api);
    const ui = await listen((req, res) => {
      if (!uiAnswers) {
        req.socket.destroy();
        return;
      }
      reachedUi.push(req.headers);
      res.setHeader('Content-Type', 'text/html');
      res.end('<html>the Temporal UI</html>');
    });
    const proxy = await listen(createUiProxy({ apiUrl: apiServer.url, temporalUiUrl: ui.url, logger, sessionCacheMs: 300, clock: () => clock }));
    servers.push(apiServer.server, ui.server, proxy.server);
    proxyUrl = proxy.url;
    apiUrl = apiServer.url;
  });
  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  beforeEach(() => {
    clock = 1_000_000;
    reachedUi.length = 0;
    sessionChecks = 0;
    uiAnswers = true;
  });

  it('passes a signed-in browser through to the UI without its ops token; other cookies stay', async () => {
    const token = await sign('alice', 'ops');
    const response = await fetch(`${proxyUrl}/namespaces/default/workflows`, { headers: { Accept: 'text/html', Cookie: `_csrf=abc; gateway_ops=${token}` } });
    expect({ status: response.status, body: await response.text() }).toEqual({ status: 200, body: '<html>the Temporal UI</html>' });
    expect(reachedUi).toHaveLength(1);
    expect(reachedUi[0]!.cookie).toBe('_csrf=abc');
    expect(JSON.stringify(reachedUi[0])).not.toContain(token);
    expect(reachedUi[0]!['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('asks the API once per cookie for a few seconds, not once per request, then asks again', async () => {
    const cookie = `gateway_ops=${await sign('bob', 'ops')}`;
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${proxyUrl}/api/v1/settings`, { headers: { Cookie: cookie } })).status).toBe(200);
      clock += 50; // the cache's clock, not the machine's: a loaded CI machine cannot age it
    }
    expect(sessionChecks).toBe(1);
    clock += 100;
    expect((await fetch(`${proxyUrl}/api/v1/settings`, { headers: { Cookie: cookie } })).status).toBe(200);
    expect(sessionChecks).toBe(2);
  });

  it.each([
    ['no cookie', undefined],
    ['a merchant token', async () => sign('m_1', 'payments:read')],
    ['an expired token', async () => sign('alice', 'ops', '-1m')],
    ['a token signed with another secret', async () => `${(await sign('alice', 'ops')).slice(0, -4)}AAAA`],
  ])('refuses %s: a page load goes to sign in and back, a UI API call is a 401 in the error shape', async (_case, make) => {
    const headers: Record<string, string> = make ? { Cookie: `gateway_ops=${await make()}` } : {};
    const page = await fetch(`${proxyUrl}/namespaces/default/workflows?query=a%20b`, { headers: { ...headers, Accept: 'text/html' }, redirect: 'manual' });
    expect({ status: page.status, location: page.headers.get('location') }).toEqual({ status: 302, location: `/ops/login?next=${encodeURIComponent('/namespaces/default/workflows?query=a%20b')}` });
    const call = await fetch(`${proxyUrl}/api/v1/namespaces`, { headers });
    expect(call.status).toBe(401);
    expect(await call.json()).toEqual({ error: { type: 'authentication_error', code: 'ops_session_required', message: expect.any(String) } });
    expect(reachedUi).toEqual([]);
  });

  it("serves the API's sign-in and codec on the UI's origin", async () => {
    const login = await fetch(`${proxyUrl}/ops/login?next=%2Fnamespaces`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('name="next" value="/namespaces"');
    const signedIn = await fetch(`${proxyUrl}/ops/session`, {
      method: 'POST',
      // The browser's Origin for a form on the UI's origin: the API checks it against the Host the proxy passes on.
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: proxyUrl },
      body: new URLSearchParams({ token: await sign('alice', 'ops'), next: '/namespaces' }).toString(),
      redirect: 'manual',
    });
    expect({ status: signedIn.status, location: signedIn.headers.get('location') }).toEqual({ status: 303, location: '/namespaces' });
    expect(signedIn.headers.get('set-cookie')).toMatch(/^gateway_ops=[^;]+; Max-Age=\d+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Strict$/);
    const codec = await fetch(`${proxyUrl}/codec/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"payloads":[]}' });
    expect(await codec.json()).toEqual({ payloads: [] });
    expect(reachedUi).toEqual([]);
  });

  it('answers in the error shape when the Temporal UI does not answer, or the API cannot check a session', async () => {
    uiAnswers = false;
    const ui = await fetch(`${proxyUrl}/api/v1/settings`, { headers: { Cookie: `gateway_ops=${await sign('carol', 'ops')}` } });
    expect({ status: ui.status, body: await ui.json() }).toEqual({ status: 502, body: { error: { type: 'api_error', code: 'upstream_unavailable', message: expect.stringMatching(/Temporal Web UI/) } } });

    const noApi = await listen(createUiProxy({ apiUrl: 'http://127.0.0.1:9', temporalUiUrl: apiUrl, logger }));
    servers.push(noApi.server);
    const check = await fetch(`${noApi.url}/api/v1/settings`, { headers: { Cookie: `gateway_ops=${await sign('dave', 'ops')}` } });
    expect(check.status).toBe(503);
    expect(((await check.json()) as { error: { code: string } }).error.code).toBe('ops_session_unavailable');
    const codec = await fetch(`${noApi.url}/codec/decode`, { method: 'POST', body: '{}' });
    expect({ status: codec.status, code: ((await codec.json()) as { error: { code: string } }).error.code }).toEqual({ status: 502, code: 'upstream_unavailable' });
  });
});
