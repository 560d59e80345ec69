import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { PaymentRecords } from '../../src/records/payment-records';
import { RETENTION_SCHEDULE_ID } from '../../src/records/retention-schedule';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { paymentStateQuery } from '../../src/workflows/payment/definitions';
import type { PaymentState } from '../../src/workflows/payment/state';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { temporalCliPath } from '../helpers/temporal-binaries';
import { sameJson } from '../helpers/same-json';
import { TEST_CARDS } from '../helpers/test-cards';

const run = promisify(execFile);
const RETENTION_MS = 4_000;

/**
 * Payment records (src/records) over the real stack: the records worker process writes them at
 * every transition, the API reads them, and they outlive the workflow — here deleted from Temporal
 * with the CLI, as the namespace's retention would.
 */
describe('payment records: written by the workflow, served after Temporal forgets the payment', () => {
  let gateway: GatewayStack;
  let db: SqliteDb;
  let records: PaymentRecords;
  const M = 'm_records';
  const cvcFor = (number: string) => (number.startsWith('37') ? '7319' : '731');
  const body = (number: string, extra: Record<string, unknown> = {}) => ({ amount: 4321, currency: 'EUR', card: { number, exp_month: 12, exp_year: 2031, cvc: cvcFor(number) }, ...extra });
  const create = async (key: string, number: string, extra: Record<string, unknown> = {}) => {
    const res = await gateway.request('POST', '/v1/payments', { merchant: M, headers: { 'Idempotency-Key': key }, body: body(number, extra) });
    expect(res.status).toBe(201);
    return res.body as { id: string; status: string };
  };
  const workflowState = (id: string) => gateway.stack.client.workflow.getHandle(id).query(paymentStateQuery) as Promise<PaymentState>;
  /** The record caught up with the workflow: the same payment. */
  const caughtUp = async (id: string, timeoutMs = 20_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const [state, record] = await Promise.all([workflowState(id), records.get(id)]);
      if (record && sameJson(record.state, state)) return { state, record };
      if (Date.now() > until) throw new Error(`record of ${id} (${record?.state.timeline.length ?? 'no'} timeline entries) never caught up with the workflow (${state.timeline.length})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /** Resolves once Temporal answers WorkflowNotFoundError for the workflow; throws if it still has it after `timeoutMs`. */
  const deletedFromTemporal = async (id: string, timeoutMs: number) => {
    const started = Date.now();
    for (;;) {
      let still: string;
      try {
        still = `describe answers ${(await gateway.stack.client.workflow.getHandle(id).describe()).status.name}`;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return;
        still = `describe fails: ${(err as Error).message}`;
      }
      if (Date.now() - started > timeoutMs) throw new Error(`${id} still in Temporal ${timeoutMs} ms after its deletion (${still})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  beforeAll(async () => {
    // Settlement far away: captured payments stay running, as they do for days in production.
    const cutoff = new Date(Date.now() + 6 * 3_600_000);
    gateway = await startGatewayStack({
      env: {
        SETTLEMENT_CUTOFF_UTC: `${String(cutoff.getUTCHours()).padStart(2, '0')}:${String(cutoff.getUTCMinutes()).padStart(2, '0')}`,
        // About 4 s: the last test sees the retention purge delete a closed payment's record.
        RECORDS_RETENTION_DAYS: String(RETENTION_MS / 86_400_000),
      },
    });
    db = SqliteDb.open(path.join(gateway.stack.dataDir, 'vault.db'));
    records = new PaymentRecords(db, 86_400_000);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await gateway?.stop();
  });

  it('the record follows every step of a running payment and equals the workflow once it has caught up', async () => {
    const payment = await create('records-manual', TEST_CARDS.mastercard, { capture_method: 'manual' });
    expect(payment.status).toBe('requires_capture');
    let { state, record } = await caughtUp(payment.id);
    expect(record).toEqual({ state, final: false, revision: expect.any(Number) });

    const captured = await gateway.request('POST', `/v1/payments/${payment.id}/capture`, { merchant: M, body: { amount: 4000 } });
    expect(captured.status).toBe(200);
    ({ state, record } = await caughtUp(payment.id));
    expect(record.state).toEqual(state);
    expect(record.state).toMatchObject({ status: 'captured', amountCaptured: 4000 });

    const refunded = await gateway.request('POST', `/v1/payments/${payment.id}/refunds`, { merchant: M, body: { amount: 1000 } });
    expect(refunded.status).toBe(201);
    ({ state, record } = await caughtUp(payment.id));
    expect(record.state).toEqual(state);
    expect(record.state.refunds).toEqual([expect.objectContaining({ amount: 1000, status: 'succeeded' })]);
    // The status history: one row per transition, in order.
    const history = await db.query<{ status: string }>('SELECT status FROM payment_history WHERE payment_id = $1 AND status IS NOT NULL ORDER BY seq', [payment.id]);
    expect(history.map((h) => h.status)).toEqual(['requires_capture', 'captured', 'partially_refunded']);
  });

  it('a closed payment answers from its final record; a deleted running one from its last record, in listings and filters too', async () => {
    const declined = await create('records-declined', TEST_CARDS.declinedInsufficientFunds);
    expect(declined.status).toBe('declined');
    const running = await create('records-running', TEST_CARDS.visa);
    expect(running.status).toBe('captured');

    // The declined payment's workflow has closed after its last write: its record is final.
    const handle = gateway.stack.client.workflow.getHandle(declined.id);
    await handle.result();
    expect(await records.get(declined.id)).toMatchObject({ final: true, state: { status: 'declined', declineCode: 'insufficient_funds' } });
    const { state } = await caughtUp(running.id);

    // Both workflows deleted from Temporal, as the namespace's retention would after they close.
    const cli = await temporalCliPath();
    for (const id of [declined.id, running.id]) {
      await run(cli, ['workflow', 'delete', '--workflow-id', id, '--address', gateway.stack.server.address, '--namespace', 'default', '--yes'], { timeout: 30_000 });
    }
    // Deletion is asynchronous. The running payment is terminated and deleted in one step (well
    // under a second). The closed one is deleted by a server task that only succeeds once the
    // transfer queue's persisted ack level has passed the workflow's close task, and the dev server
    // persists it every 30 s ± 15 % (history.transferProcessorUpdateAckInterval); the task retries
    // after 3 s, ×1.5 each time (80-100 % jitter). So it goes 0-40 s after the command, ~62 s at
    // worst (the ack landing just after a retry); 120 s also covers the retry after that. Several
    // closed deletions at once take longer: each pending one holds the ack level back.
    await Promise.all([declined.id, running.id].map((id) => deletedFromTemporal(id, 120_000)));

    const gotDeclined = await gateway.request('GET', `/v1/payments/${declined.id}`, { merchant: M });
    expect(gotDeclined.status).toBe(200);
    expect(gotDeclined.body).toMatchObject({ id: declined.id, status: 'declined', decline_code: 'insufficient_funds', amount: 4321, amount_captured: 0 });
    const gotRunning = await gateway.request('GET', `/v1/payments/${running.id}`, { merchant: M });
    expect(gotRunning.status).toBe(200);
    expect(gotRunning.body).toMatchObject({ id: running.id, status: 'captured', amount: 4321, amount_captured: 4321, amount_refunded: 0, card: { last4: '4242' } });
    expect(gotRunning.body.timeline).toEqual(state.timeline);
    // Another merchant: as if it did not exist.
    expect((await gateway.request('GET', `/v1/payments/${running.id}`, { merchant: 'm_other' })).status).toBe(404);

    const ids = async (query: string) => {
      const res = await gateway.request('GET', `/v1/payments?${query}`, { merchant: M });
      expect(res.status).toBe(200);
      return (res.body.data as { id: string }[]).map((p) => p.id);
    };
    const createdS = Math.floor(Date.parse(state.createdAt) / 1000);
    expect(await ids('limit=100')).toEqual(expect.arrayContaining([declined.id, running.id]));
    expect(await ids('status=declined')).toContain(declined.id);
    expect(await ids('status=declined')).not.toContain(running.id);
    expect(await ids('last4=4242&amount[gte]=4321&amount[lte]=4321')).toContain(running.id);
    expect(await ids('amount[gte]=4322')).not.toContain(running.id);
    expect(await ids(`created[gte]=${createdS}&created[lt]=${createdS + 1}`)).toContain(running.id);
    expect(await ids(`created[lt]=${createdS}`)).not.toContain(running.id);
    expect((await gateway.request('GET', '/v1/payments?last4=42', { merchant: M })).body.error).toMatchObject({ code: 'parameter_invalid', param: 'last4' });
  }, 240_000);

  it('pages newest first with a cursor bound to its filters', async () => {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { data: { id: string; created: string }[]; next_cursor: string | null; has_more: boolean } } = await gateway.request('GET', `/v1/payments?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { merchant: M });
      expect(res.status).toBe(200);
      expect(res.body.has_more).toBe(res.body.next_cursor !== null);
      all.push(...res.body.data.map((p) => p.id));
      cursor = res.body.next_cursor;
      if (cursor) {
        const other = await gateway.request('GET', `/v1/payments?limit=1&status=declined&cursor=${cursor}`, { merchant: M });
        expect(other.body.error).toMatchObject({ code: 'invalid_cursor' });
      }
    } while (cursor);
    expect(all.length).toBeGreaterThanOrEqual(1);
    expect(new Set(all).size).toBe(all.length);
    const created = await Promise.all(all.map(async (id) => (await records.get(id))!.state.createdAt));
    expect([...created].sort().reverse()).toEqual(created);
  });

  it('the retention schedule purges the records of closed payments past their retention, audited, and keeps the others', async () => {
    const closed = await create('records-retention-declined', TEST_CARDS.declinedInsufficientFunds);
    await gateway.stack.client.workflow.getHandle(closed.id).result();
    const schedule = gateway.stack.client.schedule.getHandle(RETENTION_SCHEDULE_ID);
    expect((await schedule.describe()).action).toMatchObject({ type: 'startWorkflow', workflowType: 'recordsRetentionWorkflow' });
    const final = (await db.query<{ payment_id: string }>('SELECT payment_id FROM payment_records WHERE final = 1')).map((r) => r.payment_id);
    const open = (await db.query<{ payment_id: string }>('SELECT payment_id FROM payment_records WHERE final = 0')).map((r) => r.payment_id);
    expect(final.length).toBeGreaterThan(0);
    expect(open.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, RETENTION_MS));
    await schedule.trigger();
    const until = Date.now() + 30_000;
    while ((await db.query('SELECT 1 FROM payment_records WHERE final = 1')).length > 0) {
      if (Date.now() > until) throw new Error('records past their retention were not purged');
      await new Promise((r) => setTimeout(r, 250));
    }
    expect((await db.query<{ payment_id: string }>('SELECT payment_id FROM payment_records')).map((r) => r.payment_id).sort()).toEqual([...open].sort());
    const audited = await db.query<{ payment_id: string; actor: string }>("SELECT payment_id, actor FROM audit_log WHERE action = 'records.purge'");
    expect(audited.map((a) => a.payment_id).sort()).toEqual([...final].sort());
    expect(new Set(audited.map((a) => a.actor))).toEqual(new Set(['worker:records']));
  });
});
