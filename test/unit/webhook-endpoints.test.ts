import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StripeEvents } from '../../src/api/stripe/events';
import { StripeError } from '../../src/api/stripe/stripe-errors';
import { migrate } from '../../src/storage/migrate';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { DISABLE_AFTER_MS, WebhookEndpoints } from '../../src/events/webhook-endpoints';

/**
 * Webhook endpoints over a real SQLite database: production refuses URLs that reach the
 * gateway's own network; the secret is shown once; a failing streak of 5 days disables.
 */
describe('webhook endpoints', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-'));
  let db: SqliteDb;
  beforeAll(async () => {
    db = SqliteDb.open(path.join(dir, 'vault.db'));
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('in production refuses http, loopback, private and link-local URLs; in development takes loopback', async () => {
    const production = new StripeEvents(db, true);
    for (const url of ['http://hooks.example.com/x', 'https://127.0.0.1/x', 'https://10.1.2.3/x', 'https://169.254.169.254/latest', 'https://[::1]/x', 'https://localhost/x', 'https://192.168.0.9/x']) {
      await expect(production.createEndpoint('m_w', { url, enabled_events: ['*'] })).rejects.toMatchObject({ status: 400, code: 'url_invalid', extra: { param: 'url' } });
    }
    const ok = await production.createEndpoint('m_w', { url: 'https://hooks.example.com/stripe', enabled_events: ['payment_intent.succeeded'] });
    expect(ok).toMatchObject({ object: 'webhook_endpoint', status: 'enabled', url: 'https://hooks.example.com/stripe', secret: expect.stringMatching(/^whsec_/) });
    const dev = await new StripeEvents(db, false).createEndpoint('m_w', { url: 'http://127.0.0.1:9/x', enabled_events: ['*'] });
    expect(dev.status).toBe('enabled');
    // Shown once: never again.
    expect(await production.endpoint('m_w', ok.id)).not.toHaveProperty('secret');
    expect(JSON.stringify(await production.listEndpoints('m_w'))).not.toContain('whsec_');
  });

  it('refuses an unknown event type, and another merchant cannot read or delete an endpoint', async () => {
    const events = new StripeEvents(db, false);
    await expect(events.createEndpoint('m_w', { url: 'http://127.0.0.1:9/x', enabled_events: ['charge.captured'] })).rejects.toBeInstanceOf(StripeError);
    const mine = await events.createEndpoint('m_w', { url: 'http://127.0.0.1:9/y', enabled_events: ['*'] });
    await expect(events.endpoint('m_other', mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(events.deleteEndpoint('m_other', mine.id)).rejects.toMatchObject({ status: 404 });
    expect(await events.deleteEndpoint('m_w', mine.id)).toEqual({ id: mine.id, object: 'webhook_endpoint', deleted: true });
    await expect(events.endpoint('m_w', mine.id)).rejects.toMatchObject({ status: 404 });
  });

  it('a failing streak disables the endpoint at 5 days, and one delivery clears it', async () => {
    const endpoints = new WebhookEndpoints(db);
    const row = await endpoints.create('m_w', { url: 'http://127.0.0.1:9/z', enabledEvents: ['*'] });
    const t0 = 1_800_000_000_000;
    const attempt = (n: number, at: number, ok: boolean) => endpoints.recordAttempt({ endpointId: row.id, eventId: 'evt_x', attempt: n, at, ok, durationMs: 1 });
    expect(await attempt(1, t0, false)).toEqual({ disabled: false });
    expect(await attempt(2, t0 + DISABLE_AFTER_MS - 1, false)).toEqual({ disabled: false });
    expect(await attempt(3, t0 + DISABLE_AFTER_MS - 1 + 1000, true)).toEqual({ disabled: false });
    // The streak starts again from the next failure.
    expect(await attempt(4, t0 + DISABLE_AFTER_MS + 10_000, false)).toEqual({ disabled: false });
    expect(await attempt(5, t0 + 2 * DISABLE_AFTER_MS + 10_000, false)).toEqual({ disabled: true });
    expect((await endpoints.get(row.id))?.status).toBe('disabled');
    expect((await endpoints.attempts(row.id, 10)).map((a) => a.outcome)).toEqual(['failed', 'failed', 'delivered', 'failed', 'failed']);
  });
});
