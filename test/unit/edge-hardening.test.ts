import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { SignJWT } from 'jose';
import { loadAuthConfig } from '../../src/api/auth/auth-config';
import { authenticate } from '../../src/api/auth/middleware';
import { createTokenVerifier } from '../../src/api/auth/verify-token';
import { ApiError, errorHandler } from '../../src/api/errors';
import { CARD_DATA_IN_FREE_TEXT } from '../../src/api/free-text';
import { clientKey, clientRateLimit } from '../../src/api/middleware/edge';
import { cancelBody, createPaymentBody, refundBody } from '../../src/api/payments/schemas';
import { fraudReportBody } from '../../src/api/fraud/schemas';
import { INTERNAL_ADDRESS, withoutInternalAddresses } from '../../src/api/public-message';
import { ReadinessCache } from '../../src/api/readiness-cache';
import type { ReadinessReport } from '../../src/api/readiness';
import { OPS_AUDIENCE, OPS_COOKIE, opsSessionRoutes } from '../../src/api/routes/ops-session';
import { createPaymentIntentParams } from '../../src/api/stripe/schemas';
import { parseParams, StripeError } from '../../src/api/stripe/stripe-errors';
import { parseInput } from '../../src/api/validation';
import { AuditLog, type AuditRow } from '../../src/audit/audit-log';
import { AuthFailureAudit } from '../../src/audit/auth-failure-audit';
import { parseEnv } from '../../src/config/env';
import { createLogger } from '../../src/logging/logger';
import { containsPan } from '../../src/logging/pan-mask';
import type { Db } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { TEST_CARDS } from '../helpers/test-cards';

/** Issue 10, item 5: the edge's hardening, each on real parts (Express over HTTP, SQLite, jose). */

const SECRET = 'edge-hardening-secret-edge-hardening-secret';
const silent = createLogger({ name: 'api', level: 'silent' });

async function serve(app: express.Express) {
  app.use(errorHandler(silent));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** A real SQLite database whose transactions are counted: each one is a turn of the write lock card sealing also needs. */
function countingDb(db: SqliteDb): Db & { transactions: number } {
  const counted = Object.create(db) as Db & { transactions: number };
  counted.transactions = 0;
  counted.transaction = (work) => {
    counted.transactions += 1;
    return db.transaction(work);
  };
  return counted;
}

describe('the edge (issue 10, item 5)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-hardening-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('rate limit per client address, before authentication', () => {
    it('refuses a flood of bad tokens from one address with 429 before any token is verified or audited; other addresses go on', async () => {
      const failures: string[] = [];
      const app = express();
      // As TRUST_PROXY=loopback makes the API do: the client address is the one the proxy names.
      app.set('trust proxy', parseEnv({ TRUST_PROXY: 'loopback' }).TRUST_PROXY);
      app.use(clientRateLimit(5));
      app.use(authenticate(createTokenVerifier(loadAuthConfig({ JWT_SECRET: SECRET }, dir)), { onFailure: (reason) => void failures.push(reason.code) }));
      app.get('/v1/thing', (_req, res) => res.json({ ok: true }));
      const { base, close } = await serve(app);
      try {
        const from = (address: string) => fetch(`${base}/v1/thing`, { headers: { Authorization: 'Bearer not.a.token', 'X-Forwarded-For': address } });
        const statuses: number[] = [];
        for (let i = 0; i < 12; i++) statuses.push((await from('203.0.113.7')).status);
        expect(statuses).toEqual([...Array(5).fill(401), ...Array(7).fill(429)]);
        // Only the requests let through were verified and reached the audit callback.
        expect(failures).toHaveLength(5);
        const limited = await from('203.0.113.7');
        expect(limited.headers.get('retry-after')).toBeTruthy();
        expect(await limited.json()).toEqual({ error: { type: 'invalid_request_error', code: 'rate_limited', message: expect.stringContaining('from this address') } });
        expect((await from('198.51.100.9')).status).toBe(401);
      } finally {
        await close();
      }
    });
  });

  it('keys IPv4 addresses as they are and IPv6 addresses by their /64', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
  });

  describe('authentication failures audited in batches', () => {
    it('a flood of bad tokens takes the audit lock once per flush, not once per request, and every failure is counted in the chain', async () => {
      const sqlite = SqliteDb.open(path.join(dir, 'auth-audit.db'));
      await migrate(sqlite);
      const db = countingDb(sqlite);
      const audit = new AuditLog(db);
      const batched = new AuthFailureAudit(db, audit, { flushIntervalMs: 60_000 });
      const app = express();
      app.use(authenticate(createTokenVerifier(loadAuthConfig({ JWT_SECRET: SECRET }, dir)), { onFailure: (reason, req) => batched.record(reason.code, req.path) }));
      app.get('/v1/:thing', (_req, res) => res.json({ ok: true }));
      const { base, close } = await serve(app);
      try {
        const flood = await Promise.all(
          Array.from({ length: 300 }, (_, i) => fetch(`${base}/v1/thing-${i % 50}`, { headers: i % 3 === 0 ? {} : { Authorization: 'Bearer not.a.token' } }).then((r) => r.status)),
        );
        expect(flood.every((s) => s === 401)).toBe(true);
        // Nothing was written on the requests' path.
        expect(db.transactions).toBe(0);
        expect(await sqlite.query('SELECT * FROM audit_log')).toEqual([]);

        await batched.close();
        expect(db.transactions).toBe(1);
        const rows = await sqlite.query<AuditRow>("SELECT * FROM audit_log WHERE action = 'auth.failure' ORDER BY seq");
        const details = rows.map((r) => JSON.parse(r.details) as { code: string; path: string; count: number });
        // 50 paths × 2 codes, bounded at 32 distinct pairs; the rest are counted under (other).
        expect(rows.length).toBeLessThanOrEqual(32 + 2);
        expect(details.some((d) => d.path === '(other)')).toBe(true);
        expect(details.reduce((sum, d) => sum + d.count, 0)).toBe(300);
        expect(details.filter((d) => d.code === 'token_missing').reduce((sum, d) => sum + d.count, 0)).toBe(100);
        expect(await audit.verify()).toEqual({ ok: true, rows: rows.length });
      } finally {
        await close();
        await sqlite.close();
      }
    });

    it('never writes a card number a client put in the path', async () => {
      const sqlite = SqliteDb.open(path.join(dir, 'auth-audit-pan.db'));
      await migrate(sqlite);
      const batched = new AuthFailureAudit(sqlite, new AuditLog(sqlite), { flushIntervalMs: 60_000 });
      batched.record('token_missing', `/v1/payments/${TEST_CARDS.visa}`);
      await batched.close();
      const [row] = await sqlite.query<AuditRow>('SELECT * FROM audit_log');
      expect(row!.details).not.toContain(TEST_CARDS.visa);
      expect(JSON.parse(row!.details)).toMatchObject({ code: 'token_missing', count: 1, path: expect.stringContaining('****4242') });
      await sqlite.close();
    });
  });

  describe('/readyz probes coalesced and cached', () => {
    const ready: ReadinessReport = { ready: true, checks: [] };

    it('a flood shares one probe in flight, and reuses its answer for the TTL', async () => {
      let clock = 0;
      let probes = 0;
      let finish: (r: ReadinessReport) => void = () => undefined;
      const cache = new ReadinessCache(
        () => {
          probes += 1;
          return new Promise((resolve) => (finish = resolve));
        },
        { ttlMs: 2000, now: () => clock },
      );
      const flood = Array.from({ length: 100 }, () => cache.check());
      expect(probes).toBe(1);
      finish(ready);
      expect(await Promise.all(flood)).toEqual(Array(100).fill(ready));
      clock = 1999;
      await cache.check();
      expect(probes).toBe(1);
      clock = 2000;
      const next = cache.check();
      expect(probes).toBe(2);
      finish({ ready: false, reason: 'temporal: down', checks: [] });
      expect((await next).ready).toBe(false);
    });

    it('a probe that fails lets the next request probe again', async () => {
      let probes = 0;
      const cache = new ReadinessCache(() => (++probes === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(ready)), { ttlMs: 60_000 });
      await expect(cache.check()).rejects.toThrow('boom');
      await expect(cache.check()).resolves.toEqual(ready);
      expect(probes).toBe(2);
    });
  });

  describe('ops sign-in: Origin, ops audience, Secure behind a trusted TLS proxy', () => {
    const auth = loadAuthConfig({ JWT_SECRET: SECRET }, dir);
    const sign = (scope: string, audience: string | string[]) =>
      new SignJWT({ scope }).setProtectedHeader({ alg: 'HS256' }).setSubject('ann').setIssuer(auth.issuer).setAudience(audience).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));

    async function opsApp(trustProxy: string | undefined) {
      const app = express();
      app.set('trust proxy', parseEnv(trustProxy ? { TRUST_PROXY: trustProxy } : {}).TRUST_PROXY);
      app.use(opsSessionRoutes(createTokenVerifier(auth), authenticate(createTokenVerifier(auth)), { opsAudience: auth.opsAudience }));
      return serve(app);
    }
    const signIn = (base: string, token: string, headers: Record<string, string>) =>
      fetch(`${base}/ops/session`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ token }).toString() });

    it('refuses a sign-in without this server as Origin (login CSRF), and a token without the ops audience', async () => {
      const { base, close } = await opsApp(undefined);
      try {
        const opsToken = await sign('ops', [auth.audience, OPS_AUDIENCE]);
        for (const headers of [{}, { Origin: 'https://evil.example' }, { Origin: 'null' }] as Record<string, string>[]) {
          const refused = await signIn(base, opsToken, headers);
          expect(refused.status).toBe(403);
          expect(refused.headers.get('set-cookie')).toBeNull();
          expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('origin_not_allowed');
        }
        // The ops scope alone is not enough: the token must be minted for the ops audience.
        const apiOnly = await signIn(base, await sign('ops', auth.audience), { Origin: base });
        expect(apiOnly.status).toBe(403);
        expect(((await apiOnly.json()) as { error: { code: string } }).error.code).toBe('token_audience_not_ops');
        const merchant = await signIn(base, await sign('payments:read', [auth.audience, OPS_AUDIENCE]), { Origin: base });
        expect(merchant.status).toBe(403);
        const ok = await signIn(base, opsToken, { Origin: base });
        expect(ok.status).toBe(200);
        // Plain http, no trusted proxy: X-Forwarded-Proto from anyone is not believed, and the cookie is not Secure.
        const spoofed = await signIn(base, opsToken, { Origin: base, 'X-Forwarded-Proto': 'https' });
        expect(spoofed.status).toBe(200);
        expect(ok.headers.get('set-cookie')).toMatch(new RegExp(`^${OPS_COOKIE}=`));
        expect(ok.headers.get('set-cookie')).not.toMatch(/; Secure/);
        expect(spoofed.headers.get('set-cookie')).not.toMatch(/; Secure/);
      } finally {
        await close();
      }
    });

    it('behind a TLS-terminating proxy trusted with TRUST_PROXY, the cookie is Secure and the https origin is the one accepted', async () => {
      const { base, close } = await opsApp('loopback');
      try {
        const host = base.replace('http://', '');
        const opsToken = await sign('ops', [auth.audience, OPS_AUDIENCE]);
        const viaProxy = await signIn(base, opsToken, { Origin: `https://${host}`, 'X-Forwarded-Proto': 'https' });
        expect(viaProxy.status).toBe(200);
        expect(viaProxy.headers.get('set-cookie')).toMatch(/; HttpOnly; Secure; SameSite=Strict$/);
        expect((await signIn(base, opsToken, { Origin: base, 'X-Forwarded-Proto': 'https' })).status).toBe(403);
      } finally {
        await close();
      }
    });
  });

  describe('no internal address in a message a client reads', () => {
    it('removes URLs, host:port pairs and IP addresses, and leaves ordinary text alone', () => {
      const cases: [string, string][] = [
        ['14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7233', `14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED ${INTERNAL_ADDRESS}`],
        ['connect to postgres://gateway:secret@db.internal:5432/gateway failed', `connect to ${INTERNAL_ADDRESS} failed`],
        ['dial tcp temporal:7233: i/o timeout', `dial tcp ${INTERNAL_ADDRESS}: i/o timeout`],
        ['answered by worker ip-10-0-3-7:4321', `answered by worker ${INTERNAL_ADDRESS}`],
        ['upstream [::1]:8080 refused', `upstream ${INTERNAL_ADDRESS} refused`],
        ['amount: must be at most 99999999', 'amount: must be at most 99999999'],
        ['settlement at 22:00 UTC; queue:fraud: no worker within 1800 ms', 'settlement at 22:00 UTC; queue:fraud: no worker within 1800 ms'],
      ];
      for (const [text, expected] of cases) expect(withoutInternalAddresses(text)).toBe(expected);
    });

    it('the error handler applies it to every error body', async () => {
      const app = express();
      app.get('/boom', () => {
        throw new ApiError(503, 'api_error', 'payments_unavailable', 'Temporal at temporal-frontend.internal:7233 did not answer');
      });
      const { base, close } = await serve(app);
      try {
        const body = (await (await fetch(`${base}/boom`)).json()) as { error: { message: string } };
        expect(body.error.message).toBe(`Temporal at ${INTERNAL_ADDRESS} did not answer`);
      } finally {
        await close();
      }
    });
  });

  describe('free-text fields refuse card numbers (they travel in Temporal payloads)', () => {
    const base = { amount: 100, currency: 'USD', card: { number: TEST_CARDS.visa, exp_month: 12, exp_year: 2030, cvc: '123' } };
    const refusal = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof ApiError || err instanceof StripeError ? { status: err.status, code: err.code, param: err instanceof ApiError ? err.param : err.extra.param, message: err.message } : err;
      }
      return 'accepted';
    };

    it('finds Luhn-valid 13–19 digit runs, bare or with spaces or dashes, and nothing else', () => {
      expect(containsPan(`order for ${TEST_CARDS.visa}`)).toBe(true);
      expect(containsPan('card 4242 4242 4242 4242 thanks')).toBe(true);
      expect(containsPan('4242-4242-4242-4242')).toBe(true);
      expect(containsPan(`ref 12 ${TEST_CARDS.mastercard}`)).toBe(true);
      expect(containsPan('4242424242424241')).toBe(false); // fails Luhn
      expect(containsPan('order 123456789012')).toBe(false); // 12 digits
      expect(containsPan('1234567890123456789012345')).toBe(false); // 25 digits: no card
    });

    it.each([
      ['description', { ...base, description: `card ${TEST_CARDS.visa}` }, 'description'],
      ['a metadata value', { ...base, metadata: { note: `4242 4242 4242 4242` } }, 'metadata.note'],
      ['a metadata key', { ...base, metadata: { [TEST_CARDS.visa]: 'x' } }, 'metadata'],
    ])('POST /v1/payments: %s holding a card number is a 400 card_data_in_free_text naming the field, never echoing it', (_name, body, param) => {
      const result = refusal(() => parseInput(createPaymentBody, body, 'body')) as { status: number; code: string; param: string; message: string };
      expect(result).toMatchObject({ status: 400, code: CARD_DATA_IN_FREE_TEXT });
      expect(result.param).toBe(param);
      expect(`${result.param} ${result.message}`).not.toContain(TEST_CARDS.visa);
    });

    it('refund, cancel and fraud-report reasons, and the Stripe-compatible description and metadata, refuse them too', () => {
      expect(refusal(() => parseInput(refundBody, { reason: `refund ${TEST_CARDS.visa}` }, 'body'))).toMatchObject({ status: 400, code: CARD_DATA_IN_FREE_TEXT, param: 'reason' });
      expect(refusal(() => parseInput(cancelBody, { reason: `${TEST_CARDS.amex}` }, 'body'))).toMatchObject({ status: 400, code: CARD_DATA_IN_FREE_TEXT, param: 'reason' });
      expect(refusal(() => parseInput(fraudReportBody, { payment: 'pay_0123456789abcdef01234567', reason: `${TEST_CARDS.visa}` }, 'body'))).toMatchObject({ code: CARD_DATA_IN_FREE_TEXT });
      expect(refusal(() => parseParams(createPaymentIntentParams, { amount: '100', currency: 'usd', description: `for ${TEST_CARDS.visa}` }))).toMatchObject({ status: 400, code: CARD_DATA_IN_FREE_TEXT, param: 'description' });
      expect(refusal(() => parseParams(createPaymentIntentParams, { amount: '100', currency: 'usd', metadata: { order: TEST_CARDS.visa } }))).toMatchObject({ status: 400, code: CARD_DATA_IN_FREE_TEXT, param: 'metadata[order]' });
      // Ordinary free text, numbers included, is accepted.
      expect(refusal(() => parseInput(createPaymentBody, { ...base, description: 'order 1001, 2 items, ref 4242', metadata: { order: '123456789012' } }, 'body'))).toBe('accepted');
    });
  });
});
