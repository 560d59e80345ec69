import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { errorHandler } from '../../src/api/errors';
import { jsonOnly, merchantRateLimit } from '../../src/api/middleware/edge';
import { requestLogging } from '../../src/api/middleware/request-logging';
import { createLogger } from '../../src/logging/logger';

/** The edge middleware on a real Express app over real HTTP. */
async function serve(build: (app: express.Express) => void) {
  const lines: string[] = [];
  const logger = createLogger(
    { name: 'api', level: 'info' },
    new Writable({
      write(chunk, _e, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  const app = express();
  app.use(requestLogging(logger));
  build(app);
  app.use(errorHandler(logger));
  const server = app.listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, lines, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('edge middleware', () => {
  it('echoes a sane X-Request-Id, invents one otherwise, and puts it in every log line of the request', async () => {
    const { base, lines, close } = await serve((app) =>
      app.get('/thing', (req, res) => {
        (req as unknown as { log: { info(msg: string): void } }).log.info('handling');
        res.json({ ok: true });
      }),
    );
    try {
      const given = await fetch(`${base}/thing?card=4242424242424242`, { headers: { 'X-Request-Id': 'req-123' } });
      expect(given.headers.get('x-request-id')).toBe('req-123');
      const invented = await fetch(`${base}/thing`, { headers: { 'X-Request-Id': 'not ok; drop table' } });
      expect(invented.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const logged = lines.map((l) => JSON.parse(l) as { requestId?: string; msg: string; req?: { path: string } });
      expect(logged.filter((l) => l.requestId === 'req-123').map((l) => l.msg)).toEqual(['handling', 'request completed']);
      expect(logged.every((l) => l.requestId)).toBe(true);
      // The query string is not logged at all.
      expect(lines.join('')).not.toContain('4242424242424242');
      expect(logged.find((l) => l.req)?.req?.path).toBe('/thing');
    } finally {
      await close();
    }
  });

  it('refuses a body that is not JSON with 415, and lets empty bodies through', async () => {
    const { base, close } = await serve((app) => {
      app.use(jsonOnly);
      app.use(express.json());
      app.post('/thing', (_req, res) => res.json({ ok: true }));
    });
    try {
      const text = await fetch(`${base}/thing`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'amount=1' });
      expect(text.status).toBe(415);
      expect(await text.json()).toEqual({ error: { type: 'invalid_request_error', code: 'unsupported_media_type', message: expect.any(String), param: 'Content-Type' } });
      expect((await fetch(`${base}/thing`, { method: 'POST' })).status).toBe(200);
      expect((await fetch(`${base}/thing`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status).toBe(200);
    } finally {
      await close();
    }
  });

  it('limits requests per merchant, not globally, with 429 in the error shape and Retry-After', async () => {
    const { base, close } = await serve((app) => {
      app.use((req, res, next) => {
        res.locals.principal = { subject: req.get('x-test-merchant') };
        next();
      });
      app.use(merchantRateLimit(3));
      app.get('/thing', (_req, res) => res.json({ ok: true }));
    });
    try {
      const as = (merchant: string) => fetch(`${base}/thing`, { headers: { 'X-Test-Merchant': merchant } });
      for (let i = 0; i < 3; i++) expect((await as('m_busy')).status).toBe(200);
      const limited = await as('m_busy');
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBeTruthy();
      expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      expect((await as('m_quiet')).status).toBe(200);
    } finally {
      await close();
    }
  });
});
