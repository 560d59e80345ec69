import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload, type KeyLike } from 'jose';
import { loadAuthConfig, type AuthConfig } from '../../src/api/auth/auth-config';
import { authenticate, principalOf, requireScope, type AuthFailure } from '../../src/api/auth/middleware';
import { createTokenVerifier, type TokenVerifier } from '../../src/api/auth/verify-token';
import { errorHandler, notFoundHandler } from '../../src/api/errors';
import { ConfigError } from '../../src/config/env';
import { createLogger } from '../../src/logging/logger';

const ISSUER = 'card-gateway-dev';
const AUDIENCE = 'card-gateway-api';
const SECRET = 'a-development-secret-of-at-least-32-chars!';

const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface SignOptions {
  alg?: string;
  kid?: string;
  claims?: JWTPayload;
  /** Claims to leave out of the defaults. */
  omit?: Array<'iss' | 'aud' | 'exp' | 'sub'>;
}

/** A token with good defaults (sub m_1, scope payments:read, default iss/aud, exp in 5 min), then overridden. */
async function sign(key: KeyLike | Uint8Array, options: SignOptions = {}): Promise<string> {
  const defaults: JWTPayload = { sub: 'm_1', iss: ISSUER, aud: AUDIENCE, exp: now() + 300, iat: now(), scope: 'payments:read' };
  for (const claim of options.omit ?? []) delete defaults[claim];
  return new SignJWT({ ...defaults, ...options.claims })
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT', ...(options.kid ? { kid: options.kid } : {}) })
    .sign(key);
}

const secretKey = (secret = SECRET) => new TextEncoder().encode(secret);

interface TestApp {
  url: string;
  failures: AuthFailure[];
  close(): Promise<void>;
}

/** authenticate + requireScope('payments:read') on GET /v1/payments, with the real error handler, over HTTP. */
async function startApp(verifier: TokenVerifier): Promise<TestApp> {
  const failures: AuthFailure[] = [];
  const app = express();
  app.get(
    '/v1/payments',
    authenticate(verifier, { onFailure: (reason) => void failures.push(reason) }),
    requireScope('payments:read'),
    (_req, res) => {
      const principal = principalOf(res);
      res.json({ merchant: principal.subject, kind: principal.kind, scopes: [...principal.scopes].sort() });
    },
  );
  app.use(notFoundHandler);
  app.use(errorHandler(createLogger({ name: 'auth-test', level: 'silent' })));
  const server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/payments`,
    failures,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Answer {
  status: number;
  body: { error?: { type: string; code: string; message: string }; merchant?: string; kind?: string; scopes?: string[] };
  challenge: string | null;
}

async function call(app: TestApp, authorization?: string): Promise<Answer> {
  const response = await fetch(app.url, { headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, body: (await response.json()) as Answer['body'], challenge: response.headers.get('www-authenticate') };
}

const bearer = (token: string) => `Bearer ${token}`;

/** 401 with exactly the API error shape and the given code. */
function expect401(answer: Answer, code: string): void {
  expect(answer.status).toBe(401);
  expect(answer.body).toEqual({ error: { type: 'authentication_error', code, message: expect.any(String) } });
  expect(answer.body.error!.message.length).toBeGreaterThan(10);
  expect(answer.challenge).toMatch(/^Bearer\b/);
}

function hs256Config(env: NodeJS.ProcessEnv = {}): AuthConfig {
  return loadAuthConfig({ JWT_SECRET: SECRET, ...env }, tmp);
}

describe('HS256 bearer tokens over HTTP', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp(createTokenVerifier(hs256Config()));
  });
  afterAll(() => app.close());

  it('accepts a good token and exposes the merchant as the principal', async () => {
    const answer = await call(app, bearer(await sign(secretKey())));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ merchant: 'm_1', kind: 'merchant', scopes: ['payments:read'] });
  });

  it('treats a token with the ops scope as an operator', async () => {
    const answer = await call(app, bearer(await sign(secretKey(), { claims: { sub: 'op_7', scope: 'ops payments:read' } })));
    expect(answer.body).toEqual({ merchant: 'op_7', kind: 'operator', scopes: ['ops', 'payments:read'] });
  });

  it('answers 401 token_missing without an Authorization header, with a bare Bearer challenge', async () => {
    const answer = await call(app);
    expect401(answer, 'token_missing');
    expect(answer.challenge).toBe('Bearer');
  });

  it('answers 401 token_missing for another scheme', async () => {
    expect401(await call(app, 'Basic bTE6cGFzc3dvcmQ='), 'token_missing');
    expect401(await call(app, 'Bearer'), 'token_missing');
  });

  it.each([
    ['not a JWT', 'abc'],
    ['two segments', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtXzEifQ'],
    ['a header that is not JSON', 'bm90IGpzb24.eyJzdWIiOiJtXzEifQ.c2ln'],
    ['an oversized token', `${'a'.repeat(9000)}.b.c`],
  ])('answers 401 token_malformed for %s', async (_name, token) => {
    const answer = await call(app, bearer(token));
    expect401(answer, 'token_malformed');
    expect(answer.challenge).toMatch(/^Bearer error="invalid_token"/);
  });

  it('answers 401 token_expired for a token expired beyond the clock skew', async () => {
    expect401(await call(app, bearer(await sign(secretKey(), { claims: { exp: now() - 60 } }))), 'token_expired');
  });

  it('answers 401 token_not_yet_valid for a token whose nbf is beyond the clock skew', async () => {
    expect401(await call(app, bearer(await sign(secretKey(), { claims: { nbf: now() + 120 } }))), 'token_not_yet_valid');
  });

  it('answers 401 token_invalid_issuer for a wrong or missing issuer', async () => {
    expect401(await call(app, bearer(await sign(secretKey(), { claims: { iss: 'someone-else' } }))), 'token_invalid_issuer');
    expect401(await call(app, bearer(await sign(secretKey(), { omit: ['iss'] }))), 'token_invalid_issuer');
  });

  it('answers 401 token_invalid_audience for a wrong or missing audience', async () => {
    expect401(await call(app, bearer(await sign(secretKey(), { claims: { aud: 'another-api' } }))), 'token_invalid_audience');
    expect401(await call(app, bearer(await sign(secretKey(), { omit: ['aud'] }))), 'token_invalid_audience');
  });

  it('answers 401 token_invalid_signature for a tampered signature, a tampered payload and a foreign secret', async () => {
    const token = await sign(secretKey());
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect401(await call(app, bearer(`${header}.${payload}.${flipped}`)), 'token_invalid_signature');

    const forged = b64url({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'm_2' });
    expect401(await call(app, bearer(`${header}.${forged}.${signature}`)), 'token_invalid_signature');

    expect401(await call(app, bearer(await sign(secretKey('another-secret-that-is-also-32-chars-long')))), 'token_invalid_signature');
  });

  it('answers 401 token_algorithm_not_allowed for alg none', async () => {
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'm_1', iss: ISSUER, aud: AUDIENCE, exp: now() + 300, scope: 'payments:read' })}.`;
    expect401(await call(app, bearer(unsigned)), 'token_algorithm_not_allowed');
    // Same, with a bogus signature attached and a capitalised "None".
    const alsoUnsigned = `${b64url({ alg: 'None' })}.${unsigned.split('.')[1]}.c2ln`;
    expect401(await call(app, bearer(alsoUnsigned)), 'token_algorithm_not_allowed');
  });

  it('answers 401 token_algorithm_not_allowed for an algorithm that is not configured (HS512 with the right secret)', async () => {
    expect401(await call(app, bearer(await sign(secretKey(), { alg: 'HS512' }))), 'token_algorithm_not_allowed');
  });

  it('answers 401 token_invalid_subject for a missing or unsafe subject', async () => {
    expect401(await call(app, bearer(await sign(secretKey(), { omit: ['sub'] }))), 'token_invalid_subject');
    expect401(await call(app, bearer(await sign(secretKey(), { claims: { sub: 'm_1/../m_2' } }))), 'token_invalid_subject');
    expect401(await call(app, bearer(await sign(secretKey(), { claims: { sub: 'x'.repeat(65) } }))), 'token_invalid_subject');
  });

  it('answers 401 token_invalid for a token without exp', async () => {
    expect401(await call(app, bearer(await sign(secretKey(), { omit: ['exp'] }))), 'token_invalid');
  });

  it('answers 403 insufficient_scope, naming the scope, for a token without it', async () => {
    for (const scope of [undefined, 'payments:write refunds:write', 'payments:reader']) {
      const answer = await call(app, bearer(await sign(secretKey(), { claims: { scope } })));
      expect(answer.status).toBe(403);
      expect(answer.body).toEqual({ error: { type: 'authentication_error', code: 'insufficient_scope', message: expect.stringContaining('payments:read') } });
      expect(answer.challenge).toBe('Bearer error="insufficient_scope", scope="payments:read"');
    }
  });

  it('reports every failure to onFailure, without the token', async () => {
    app.failures.length = 0;
    const token = await sign(secretKey(), { claims: { exp: now() - 3600 } });
    await call(app, bearer(token));
    expect(app.failures).toEqual([{ code: 'token_expired', message: expect.any(String) }]);
    expect(JSON.stringify(app.failures)).not.toContain(token.split('.')[2]);
  });

  it('never echoes the token in the response', async () => {
    const token = await sign(secretKey(), { claims: { iss: 'someone-else' } });
    const response = await fetch(app.url, { headers: { authorization: bearer(token) } });
    const text = `${JSON.stringify([...response.headers])}${await response.text()}`;
    for (const part of token.split('.')) expect(text).not.toContain(part);
  });
});

describe('clock skew', () => {
  it('accepts a token expired 10 s ago with 30 s of skew, refuses one expired 60 s ago', async () => {
    const verifier = createTokenVerifier(hs256Config({ JWT_CLOCK_SKEW_SECONDS: '30' }));
    await expect(verifier.verify(await sign(secretKey(), { claims: { exp: now() - 10 } }))).resolves.toMatchObject({ subject: 'm_1' });
    await expect(verifier.verify(await sign(secretKey(), { claims: { exp: now() - 60 } }))).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('accepts an nbf 10 s ahead with 30 s of skew', async () => {
    const verifier = createTokenVerifier(hs256Config());
    await expect(verifier.verify(await sign(secretKey(), { claims: { nbf: now() + 10 } }))).resolves.toMatchObject({ subject: 'm_1' });
  });

  it('refuses a token expired 10 s ago when the skew is 0', async () => {
    const verifier = createTokenVerifier(hs256Config({ JWT_CLOCK_SKEW_SECONDS: '0' }));
    await expect(verifier.verify(await sign(secretKey(), { claims: { exp: now() - 10 } }))).rejects.toMatchObject({ code: 'token_expired' });
  });
});

describe('RS256 with a JWKS file', () => {
  let app: TestApp;
  let privateKey: KeyLike;
  let publicJwk: JWK;
  let publicPem: string;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
    publicPem = await exportSPKI(pair.publicKey);
    const file = path.join(tmp, 'rs256-jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [publicJwk] }));
    app = await startApp(createTokenVerifier(loadAuthConfig({ JWT_ALGORITHMS: 'RS256', JWT_JWKS_FILE: file }, tmp)));
  });
  afterAll(() => app.close());

  it('accepts a token signed with the private key', async () => {
    const answer = await call(app, bearer(await sign(privateKey, { alg: 'RS256', kid: 'rsa-1' })));
    expect(answer.status).toBe(200);
    expect(answer.body.merchant).toBe('m_1');
  });

  it('refuses a token signed by another key, under the same kid or an unknown one', async () => {
    const other = await generateKeyPair('RS256');
    expect401(await call(app, bearer(await sign(other.privateKey, { alg: 'RS256', kid: 'rsa-1' }))), 'token_invalid_signature');
    expect401(await call(app, bearer(await sign(other.privateKey, { alg: 'RS256', kid: 'rsa-2' }))), 'token_invalid_signature');
  });

  it('refuses algorithm confusion: HS256 signed with the public key (PEM or JWK bytes) as the HMAC secret', async () => {
    for (const secret of [publicPem, JSON.stringify(publicJwk), publicJwk.n!]) {
      const confused = await sign(new TextEncoder().encode(secret), { alg: 'HS256', kid: 'rsa-1' });
      expect401(await call(app, bearer(confused)), 'token_algorithm_not_allowed');
    }
  });

  it('refuses alg none and an expired token here too', async () => {
    const unsigned = `${b64url({ alg: 'none', kid: 'rsa-1' })}.${b64url({ sub: 'm_1', iss: ISSUER, aud: AUDIENCE, exp: now() + 300, scope: 'payments:read' })}.`;
    expect401(await call(app, bearer(unsigned)), 'token_algorithm_not_allowed');
    expect401(await call(app, bearer(await sign(privateKey, { alg: 'RS256', kid: 'rsa-1', claims: { exp: now() - 60 } }))), 'token_expired');
  });
});

describe('ES256 with a JWKS URL', () => {
  let app: TestApp;
  let jwksServer: http.Server;
  let jwksRequests = 0;
  let privateKey: KeyLike;
  let rsaKey: KeyLike;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const rsa = await generateKeyPair('RS256');
    const jwks = JSON.stringify({
      keys: [
        { ...(await exportJWK(pair.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
        { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      ],
    });
    jwksServer = http.createServer((req, res) => {
      jwksRequests += 1;
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    app = await startApp(createTokenVerifier(loadAuthConfig({ JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: url, JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'payments' }, tmp)));
    rsaKey = rsa.privateKey;
  });
  afterAll(async () => {
    await app.close();
    await new Promise((resolve) => jwksServer.close(resolve));
  });

  const claims = { iss: 'https://idp.example', aud: 'payments' };

  it('accepts a token signed with the EC key, fetching the JWKS once', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await call(app, bearer(await sign(privateKey, { alg: 'ES256', kid: 'ec-1', claims })));
      expect(answer.status).toBe(200);
    }
    expect(jwksRequests).toBe(1);
  });

  it('checks the configured issuer and audience, not the defaults', async () => {
    expect401(await call(app, bearer(await sign(privateKey, { alg: 'ES256', kid: 'ec-1' }))), 'token_invalid_issuer');
    expect401(await call(app, bearer(await sign(privateKey, { alg: 'ES256', kid: 'ec-1', claims: { iss: claims.iss } }))), 'token_invalid_audience');
  });

  it('refuses RS256 even though the JWKS holds an RSA key, because only ES256 is configured', async () => {
    expect401(await call(app, bearer(await sign(rsaKey, { alg: 'RS256', kid: 'rsa-1', claims }))), 'token_algorithm_not_allowed');
  });

  it('refuses a tampered ES256 signature', async () => {
    const [h, p, s] = (await sign(privateKey, { alg: 'ES256', kid: 'ec-1', claims })).split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[5] = sig[5]! ^ 0xff;
    expect401(await call(app, bearer(`${h}.${p}.${sig.toString('base64url')}`)), 'token_invalid_signature');
  });

  it('answers 503 auth_unavailable, not 401, when the JWKS URL cannot be reached', async () => {
    const dead = http.createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((resolve) => dead.close(resolve));
    const down = await startApp(createTokenVerifier(loadAuthConfig({ JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` }, tmp)));
    try {
      const answer = await call(down, bearer(await sign(privateKey, { alg: 'ES256', kid: 'ec-1' })));
      expect(answer.status).toBe(503);
      expect(answer.body.error).toMatchObject({ type: 'api_error', code: 'auth_unavailable' });
    } finally {
      await down.close();
    }
  });
});

describe('loadAuthConfig', () => {
  const configError = (env: NodeJS.ProcessEnv, dataDir = tmp) => {
    try {
      loadAuthConfig(env, dataDir);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  it('defaults to HS256 with a development secret created once, 0600, under DATA_DIR/keys', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    const first = loadAuthConfig({}, dataDir);
    expect(first).toMatchObject({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], clockSkewSeconds: 30, key: { kind: 'secret', origin: 'dev-file' } });
    const file = path.join(dataDir, 'keys', 'jwt-dev-secret');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const second = loadAuthConfig({}, dataDir);
    const token = await sign(first.key.kind === 'secret' ? first.key.secret : new Uint8Array());
    await expect(createTokenVerifier(second).verify(token)).resolves.toMatchObject({ subject: 'm_1' });
    // The secret never shows when the configuration is logged.
    const secretText = fs.readFileSync(file, 'utf8').trim();
    expect(secretText.length).toBeGreaterThanOrEqual(32);
    expect(JSON.stringify(first)).not.toContain(secretText);
  });

  it('uses JWT_SECRET when set, and creates no file', () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    expect(loadAuthConfig({ JWT_SECRET: SECRET }, dataDir).key).toMatchObject({ kind: 'secret', origin: 'env' });
    expect(fs.existsSync(path.join(dataDir, 'keys'))).toBe(false);
  });

  it('refuses a development secret file that others can read', () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    loadAuthConfig({}, dataDir);
    fs.chmodSync(path.join(dataDir, 'keys', 'jwt-dev-secret'), 0o644);
    expect(configError({}, dataDir).message).toMatch(/^Invalid configuration: JWT_SECRET .*chmod 600/);
  });

  it('reads the other variables', () => {
    const config = loadAuthConfig({ JWT_SECRET: SECRET, JWT_ISSUER: 'iss-x', JWT_AUDIENCE: 'aud-y', JWT_ALGORITHMS: ' HS256 ', JWT_CLOCK_SKEW_SECONDS: '5' }, tmp);
    expect(config).toMatchObject({ issuer: 'iss-x', audience: 'aud-y', algorithms: ['HS256'], clockSkewSeconds: 5 });
    const rs = loadAuthConfig({ JWT_ALGORITHMS: 'RS256,ES256', JWT_JWKS_URL: 'https://idp.example/jwks.json', JWT_SECRET: '' }, tmp);
    expect(rs).toMatchObject({ algorithms: ['RS256', 'ES256'], key: { kind: 'jwks-url' } });
  });

  it.each([
    ['JWT_ALGORITHMS', { JWT_ALGORITHMS: 'HS256,RS256', JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://idp.example/jwks.json' }, /algorithm confusion/],
    ['JWT_ALGORITHMS', { JWT_ALGORITHMS: 'ES256, HS256', JWT_SECRET: SECRET }, /must not mix HS256/],
    ['JWT_ALGORITHMS', { JWT_ALGORITHMS: 'none' }, /RS256, ES256, HS256/],
    ['JWT_ALGORITHMS', { JWT_ALGORITHMS: 'HS512' }, /RS256, ES256, HS256/],
    ['JWT_ALGORITHMS', { JWT_ALGORITHMS: ',' }, /at least one/],
    ['JWT_SECRET', { JWT_SECRET: 'too-short' }, /at least 32 characters/],
    ['JWT_SECRET', { NODE_ENV: 'production' }, /NODE_ENV=production/],
    ['JWT_JWKS_URL', { JWT_ALGORITHMS: 'RS256' }, /must be set when JWT_ALGORITHMS is RS256/],
    ['JWT_JWKS_URL', { JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: 'http://idp.example/jwks.json' }, /https/],
    ['JWT_JWKS_URL', { JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: 'not a url' }, /URL/],
    ['JWT_JWKS_URL', { JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: 'https://idp.example/jwks.json', JWT_JWKS_FILE: 'jwks.json' }, /choose one/],
    ['JWT_JWKS_FILE', { JWT_ALGORITHMS: 'RS256', JWT_JWKS_FILE: '/nonexistent/jwks.json' }, /cannot be read/],
    ['JWT_CLOCK_SKEW_SECONDS', { JWT_CLOCK_SKEW_SECONDS: 'lots' }, /number/],
    ['JWT_CLOCK_SKEW_SECONDS', { JWT_CLOCK_SKEW_SECONDS: '3600' }, /300/],
  ])('refuses a bad %s', (variable, env, detail) => {
    const err = configError(env);
    expect(err.variable).toBe(variable);
    expect(err.message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect(err.message).toMatch(detail);
  });

  it('never echoes a rejected JWT_SECRET', () => {
    expect(configError({ JWT_SECRET: 'short-secret-value' }).message).not.toContain('short-secret-value');
  });

  it('refuses a JWKS file holding private or symmetric keys', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const file = path.join(tmp, 'private-jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [await exportJWK(privateKey)] }));
    expect(configError({ JWT_ALGORITHMS: 'ES256', JWT_JWKS_FILE: file }).message).toMatch(/^Invalid configuration: JWT_JWKS_FILE .*public keys only/);
  });
});
