import path from 'node:path';
import { HttpAcquirerClient } from '../../src/acquirer/http-acquirer-client';
import type { ReconciliationSummary } from '../../src/activities/reconciliation';
import { LedgerReader } from '../../src/ledger/merchant-ledger';
import { RECONCILIATION_SCHEDULE_ID } from '../../src/reconciliation/reconciliation-schedule';
import { PaymentRecords } from '../../src/records/payment-records';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { TASK_QUEUES } from '../../src/temporal/task-queues';
import { paymentState } from '../helpers/payment-state';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { TEST_CARDS } from '../helpers/test-cards';

/**
 * The daily reconciliation over the real stack: real payments through the API, the records
 * worker's ledger, the sandbox's settlement report over HTTP, the reconciliation workflow on the
 * dev server. Two movements are planted: one only the acquirer booked (a capture nobody asked the
 * gateway for) and one only our ledger holds (a charge the acquirer never saw). Both must be
 * reported: in the day's report (GET /v1/reconciliation/:date), the audit log and the metric.
 */
describe('daily reconciliation: the acquirer settlement report against the merchant ledger', () => {
  let gateway: GatewayStack;
  let db: SqliteDb;
  let ledger: LedgerReader;
  const M = 'm_reconcile';
  const today = new Date().toISOString().slice(0, 10);
  const ACQUIRER_ONLY = { paymentId: 'pay_aaaaaaaaaaaaaaaaaaaaaaaa', amount: 1_234 };
  const GATEWAY_ONLY = { paymentId: 'pay_bbbbbbbbbbbbbbbbbbbbbbbb', amount: 777 };

  beforeAll(async () => {
    // Settlement far away: the day's movements are captures and refunds.
    const cutoff = new Date(Date.now() + 6 * 3_600_000);
    gateway = await startGatewayStack({
      metrics: true,
      env: { SETTLEMENT_CUTOFF_UTC: `${String(cutoff.getUTCHours()).padStart(2, '0')}:${String(cutoff.getUTCMinutes()).padStart(2, '0')}` },
    });
    db = SqliteDb.open(path.join(gateway.stack.dataDir, 'vault.db'));
    ledger = new LedgerReader(db);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await gateway?.stop();
  });

  const reconcile = async () => {
    const handle = await gateway.stack.client.workflow.start('reconciliationWorkflow', {
      taskQueue: TASK_QUEUES.payments,
      workflowId: `reconcile-${today}-${Date.now()}`,
      args: [{ date: today }],
    });
    return (await handle.result()) as ReconciliationSummary;
  };
  const mismatchMetric = async () => {
    const text = await (await fetch(`http://127.0.0.1:${gateway.stack.metricsPorts.get('records')}/metrics`)).text();
    return Object.fromEntries([...text.matchAll(/^reconciliation_mismatches_total\{kind="([a-z_]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  };
  const auditRows = (action: string) => db.query<{ subject: string; details: string }>('SELECT subject, details FROM audit_log WHERE action = $1 ORDER BY seq', [action]);

  it('reports a movement only the acquirer booked and one only the ledger holds, and matches the rest line by line', async () => {
    // Real payments: a capture, a capture partly refunded, a decline (no money).
    const ids: string[] = [];
    for (const [key, number] of [['rec-1', TEST_CARDS.visa], ['rec-2', TEST_CARDS.mastercard], ['rec-3', TEST_CARDS.declinedGeneric]] as const) {
      const res = await gateway.request('POST', '/v1/payments', { merchant: M, headers: { 'Idempotency-Key': key }, body: { amount: 5_000, currency: 'EUR', card: { number, exp_month: 12, exp_year: 2031, cvc: '731' } } });
      expect(res.status).toBe(201);
      ids.push(res.body.id as string);
    }
    const refunded = await gateway.request('POST', `/v1/payments/${ids[1]}/refunds`, { merchant: M, headers: { 'Idempotency-Key': 'rec-refund' }, body: { amount: 1_500 } });
    expect(refunded.status).toBe(201);
    // The records worker posts with the record write, just after the workflow moved the money.
    for (let i = 0; ; i++) {
      const posted = (await Promise.all(ids.map((id) => ledger.ofPayment(id)))).map((p) => p.transactions.length);
      if (posted.join() === '1,2,0') break;
      if (i > 100) throw new Error(`the ledger never caught up: ${posted.join()}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // Planted, acquirer side: a capture under a key the gateway never used.
    const acquirer = new HttpAcquirerClient({ baseUrl: gateway.sandbox.url });
    const auth = await acquirer.authorize({ pan: TEST_CARDS.visa, expMonth: 12, expYear: 2031, cvc: '731', amount: ACQUIRER_ONLY.amount, currency: 'EUR', merchantId: M, idempotencyKey: `${ACQUIRER_ONLY.paymentId}:authorize` });
    if (auth.outcome !== 'approved') throw new Error('the planted authorization was declined');
    await acquirer.capture({ authorizationRef: auth.acquirerRef, amount: ACQUIRER_ONLY.amount, idempotencyKey: `${ACQUIRER_ONLY.paymentId}:capture` });
    // Planted, our side: a payment record (and so a ledger charge) the acquirer never saw.
    const { timeline: _t, refunds: _r, ...payment } = paymentState(GATEWAY_ONLY.paymentId, { merchantId: M, status: 'captured', amount: GATEWAY_ONLY.amount, amountCaptured: GATEWAY_ONLY.amount, card: { brand: 'visa', last4: '0000', expMonth: 12, expYear: 2031 }, createdAt: new Date().toISOString(), requestHash: 'planted' });
    expect(await new PaymentRecords(db, 86_400_000).write({ base: 0, revision: 1, final: false, payment, refunds: [], eventsFrom: 0, events: [] })).toBe('applied');

    const summary = await reconcile();
    // Real: two captures and one refund on each side.
    expect(summary).toEqual({ date: today, acquirerLines: 4, gatewayLines: 4, matched: 3, mismatches: 2, newMismatches: 2 });

    const report = await gateway.request('GET', `/v1/reconciliation/${today}`, { operator: 'op_alice' });
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ object: 'reconciliation_report', date: today, matched: 3, acquirer_lines: 4, gateway_lines: 4 });
    expect(report.body.mismatches).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'missing_in_gateway', idempotency_key: `${ACQUIRER_ONLY.paymentId}:capture`, merchant: M, acquirer_amount: ACQUIRER_ONLY.amount, gateway_amount: null, acquirer_ref: expect.stringMatching(/^cap_/) }),
        expect.objectContaining({ kind: 'missing_at_acquirer', idempotency_key: `${GATEWAY_ONLY.paymentId}:capture`, merchant: M, gateway_amount: GATEWAY_ONLY.amount, acquirer_amount: null, balance_transaction: expect.stringMatching(/^txn_/) }),
      ]),
    );
    expect(report.body.mismatches).toHaveLength(2);

    expect((await auditRows('reconciliation.mismatch')).map((r) => r.subject).sort()).toEqual([`${ACQUIRER_ONLY.paymentId}:capture`, `${GATEWAY_ONLY.paymentId}:capture`]);
    expect(await auditRows('reconciliation.run')).toHaveLength(1);
    expect(await mismatchMetric()).toEqual({ missing_in_gateway: 1, missing_at_acquirer: 1, amount_mismatch: 0 });
  });

  it('a re-run of the day replaces its report and reports nothing twice', async () => {
    const summary = await reconcile();
    expect(summary).toMatchObject({ mismatches: 2, newMismatches: 0 });
    expect(await auditRows('reconciliation.mismatch')).toHaveLength(2);
    expect(await auditRows('reconciliation.run')).toHaveLength(2);
    expect(await mismatchMetric()).toEqual({ missing_in_gateway: 1, missing_at_acquirer: 1, amount_mismatch: 0 });
  });

  it('the report is for operations only; a day never reconciled is a 404, a date that is no day a 400', async () => {
    expect((await gateway.request('GET', `/v1/reconciliation/${today}`, { merchant: M })).status).toBe(403);
    const never = await gateway.request('GET', '/v1/reconciliation/2001-01-01', { operator: 'op_alice' });
    expect(never.status).toBe(404);
    expect(never.body.error).toMatchObject({ type: 'not_found_error', code: 'reconciliation_not_found', param: 'date' });
    const bad = await gateway.request('GET', '/v1/reconciliation/2026-02-30', { operator: 'op_alice' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', param: 'date' });
  });

  it('runs daily at the settlement cutoff from a Temporal Schedule the records worker created', async () => {
    const described = await gateway.stack.client.schedule.getHandle(RECONCILIATION_SCHEDULE_ID).describe();
    const cutoff = gateway.stack.env.SETTLEMENT_CUTOFF_UTC!.split(':').map(Number);
    expect(described.spec.calendars?.[0]).toMatchObject({ hour: [{ start: cutoff[0], end: cutoff[0], step: 1 }], minute: [{ start: cutoff[1], end: cutoff[1], step: 1 }] });
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconciliationWorkflow' });
  });
});
