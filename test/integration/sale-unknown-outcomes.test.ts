import type { LedgerEntry } from '../../src/acquirer/sandbox/ledger';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { TEST_CARDS } from '../helpers/test-cards';

/**
 * Sales (automatic capture authorized and captured in one acquirer call, `ACQUIRER_SALE`, the
 * default) under the faults real acquirers have: the sale done and its answer lost, a sale never
 * answered, a cancel while it is in flight, a capture the issuer refuses. Real stack (dev server,
 * worker processes, API, acquirer sandbox process); each test ends on the sandbox's ledger. The
 * authorize-then-capture path has its own in unknown-outcomes.test.ts.
 */

interface View {
  id: string;
  status: string;
  amount_captured: number;
  amount_refunded: number;
  failure: { code: string; message: string } | null;
  timeline: { event: string; detail?: string }[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('sales: one acquirer call for authorization and capture, under lost and late answers', () => {
  let gateway: GatewayStack;
  let run = 0;

  beforeAll(async () => {
    gateway = await startGatewayStack({ env: { AUTHORIZATION_WAIT_MS: '3000', FRAUD_CARD_HOURLY_LIMIT: '100000', FRAUD_MERCHANT_MINUTE_LIMIT: '100000' } });
  }, 120_000);
  afterEach(async () => {
    await gateway.sandbox.setFaults({});
  });
  afterAll(async () => {
    await gateway?.stop();
  }, 60_000);

  async function create(card: string, amount = 1999): Promise<{ status: number; view: View }> {
    const { status, body } = await gateway.request('POST', '/v1/payments', {
      merchant: 'm_sale',
      headers: { 'Idempotency-Key': `sale-${Date.now()}-${++run}` },
      body: { amount, currency: 'EUR', card: { number: card, exp_month: 12, exp_year: 2030, cvc: card.startsWith('37') ? '7319' : '731' } },
    });
    expect([201, 202]).toContain(status);
    return { status, view: body as View };
  }

  async function waitFor(id: string, done: (v: View) => boolean, timeoutMs = 90_000): Promise<View> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status, body } = await gateway.request('GET', `/v1/payments/${id}`, { merchant: 'm_sale' });
      if (status === 200 && done(body as View)) return body as View;
      if (Date.now() > deadline) throw new Error(`payment ${id} not done after ${timeoutMs} ms: ${JSON.stringify(body)}`);
      await sleep(250);
    }
  }

  const rows = async (id: string): Promise<LedgerEntry[]> => (await gateway.sandbox.ledger()).filter((e) => e.idempotency_key.startsWith(`${id}:`));
  const kinds = (entries: LedgerEntry[]) => entries.map((e) => `${e.kind}:${e.status}:${e.idempotency_key.split(':').slice(1).join(':')}`).sort();
  const activities = async (id: string) =>
    ((await gateway.stack.client.workflow.getHandle(id).fetchHistory()).events ?? [])
      .flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [])
      .filter((a) => a !== 'recordPayment');

  it('a sale answers 201 captured after tokenize, fraud check and one authorize call; the capture is booked under the capture key', async () => {
    const { status, view } = await create(TEST_CARDS.visa, 2600);
    expect(status).toBe(201);
    expect(view).toMatchObject({ status: 'captured', amount_captured: 2600 });
    expect(await activities(view.id)).toEqual(['tokenize', 'checkFraud', 'authorize']);
    expect(kinds(await rows(view.id))).toEqual(['authorization:approved:authorize', 'capture:succeeded:capture']);
  });

  it('the sale done and its answer lost on every attempt: the inquiry finds the capture, the payment is captured once', async () => {
    await gateway.sandbox.setFaults({ lostAnswerRate: 1, operations: ['authorize'] });
    const { view } = await create(TEST_CARDS.mastercard, 3300);
    const final = await waitFor(view.id, (v) => v.status !== 'processing');
    expect(final).toMatchObject({ status: 'captured', amount_captured: 3300 });
    expect(final.timeline.map((t) => t.event)).toContain('acquirer.awaited');
    const ledger = await rows(view.id);
    expect(kinds(ledger)).toEqual(['authorization:approved:authorize', 'capture:succeeded:capture']);
    // No capture call was ever made: the sale's capture is the only one.
    expect(await activities(view.id)).not.toContain('capturePayment');
  });

  it('a sale the acquirer never answers is reversed: a failed payment, nothing held or taken', async () => {
    await gateway.sandbox.setFaults({ errorRate: 1, operations: ['authorize'] });
    const { view } = await create(TEST_CARDS.visa);
    const final = await waitFor(view.id, (v) => v.status !== 'processing');
    expect(final).toMatchObject({ status: 'failed', amount_captured: 0, failure: { code: 'authorization_failed' } });
    await gateway.sandbox.setFaults({});
    expect((await rows(view.id)).filter((e) => e.kind === 'capture' || (e.kind === 'authorization' && e.status === 'approved'))).toEqual([]);
  });

  it('a merchant cancel while the sale is in flight is refused (its capture has started); the payment is captured', async () => {
    await gateway.sandbox.setFaults({ lateAnswerRate: 1, lateAnswerMs: 4_000, operations: ['authorize'] });
    const { view } = await create(TEST_CARDS.discover);
    await waitFor(view.id, (v) => v.timeline.some((t) => t.event === 'fraud.approve'), 20_000);
    await sleep(500);
    const cancel = await gateway.request('POST', `/v1/payments/${view.id}/cancel`, { merchant: 'm_sale', body: {} });
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('payment_not_cancelable');
    await gateway.sandbox.setFaults({});
    const final = await waitFor(view.id, (v) => v.status !== 'processing');
    expect(final).toMatchObject({ status: 'captured', amount_refunded: 0 });
    expect(kinds(await rows(view.id))).toEqual(['authorization:approved:authorize', 'capture:succeeded:capture']);
  });

  it('Request Cancellation (as the Web UI sends it) while the sale is in flight: the sale finishes, then it is refunded in full', async () => {
    await gateway.sandbox.setFaults({ lateAnswerRate: 1, lateAnswerMs: 4_000, operations: ['authorize'] });
    const { view } = await create(TEST_CARDS.visa, 3100);
    await waitFor(view.id, (v) => v.timeline.some((t) => t.event === 'fraud.approve'), 20_000);
    await sleep(500);
    await gateway.stack.client.workflow.getHandle(view.id).cancel();
    await gateway.sandbox.setFaults({});
    const final = await waitFor(view.id, (v) => ['reversed', 'canceled', 'failed'].includes(v.status));
    expect(final).toMatchObject({ status: 'reversed', amount_captured: 3100, amount_refunded: 3100 });
    expect(kinds(await rows(view.id))).toEqual(['authorization:approved:authorize', 'capture:succeeded:capture', 'refund:succeeded:refund:reversal']);
  });

  it('a sale whose capture the issuer refuses: the authorization is voided and the payment fails with capture_failed', async () => {
    const { view } = await create(TEST_CARDS.captureFails);
    const final = await waitFor(view.id, (v) => v.status !== 'processing');
    expect(final).toMatchObject({ status: 'failed', amount_captured: 0, failure: { code: 'capture_failed' } });
    expect(kinds(await rows(view.id))).toEqual(['authorization:approved:authorize', 'void:succeeded:void']);
  });
});
