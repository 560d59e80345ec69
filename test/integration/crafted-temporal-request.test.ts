import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { TASK_QUEUES } from '../../src/temporal/task-queues';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { temporalCliPath } from '../helpers/temporal-binaries';
import { TEST_CARDS } from '../helpers/test-cards';

/**
 * Temporal is not a side door (DESIGN.md §3a): someone who reaches the frontend, but holds no
 * payload key, sends a payment's workflow requests in plain JSON with the Temporal CLI itself,
 * past the API's JWT, scopes, merchant isolation and audit log. The workers decode them to the
 * refusal marker (src/workflows/unencrypted-payload.ts): an update is rejected by its validator, a
 * signal is answered as refused, a start fails at once, and nothing moves at the acquirer. The
 * payment is not stuck either: the merchant's own capture through the API goes through afterwards.
 */
const MERCHANT = 'm_crafted';
const AMOUNT = 4200;

async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    value = await probe();
  }
  return value;
}

describe('a request crafted straight to Temporal, without the payload key', () => {
  let stack: GatewayStack;
  let cli: string;
  let paymentId: string;

  const temporal = (...args: string[]) =>
    spawnSync(cli, [...args, '--address', stack.stack.server.address, '--namespace', 'default'], { encoding: 'utf8', timeout: 30_000 });
  const payment = () => stack.request('GET', `/v1/payments/${paymentId}`, { merchant: MERCHANT });
  const ledger = async () => (await stack.sandbox.ledger()).filter((e) => e.idempotency_key.startsWith(`${paymentId}:`)).map((e) => `${e.kind}:${e.status}`);

  beforeAll(async () => {
    cli = await temporalCliPath();
    stack = await startGatewayStack();
    const created = await stack.request('POST', '/v1/payments', {
      merchant: MERCHANT,
      headers: { 'Idempotency-Key': `crafted-${randomUUID()}` },
      body: { amount: AMOUNT, currency: 'USD', capture_method: 'manual', card: { number: TEST_CARDS.visa, exp_month: 12, exp_year: 2030, cvc: '731' } },
    });
    expect([created.status, created.body.status]).toEqual([201, 'requires_capture']);
    paymentId = created.body.id;
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  // The failure's message is encrypted like every failure message (failure-converter.ts); its type names the reason.
  it('a plain-JSON capture update is rejected by its validator, with the reason', async () => {
    const update = temporal('workflow', 'update', 'execute', '--workflow-id', paymentId, '--name', 'capture', '--input', JSON.stringify({ amount: AMOUNT }));
    expect(update.status).not.toBe(0);
    expect(`${update.stdout}${update.stderr}`).toMatch(/type: unencrypted_payload, retryable: false/);
    const refund = temporal('workflow', 'update', 'execute', '--workflow-id', paymentId, '--name', 'refund', '--input', JSON.stringify({ refundId: 're_crafted', amount: AMOUNT }));
    expect(refund.status).not.toBe(0);
    expect(`${refund.stdout}${refund.stderr}`).toMatch(/type: unencrypted_payload, retryable: false/);
    // A rejected update leaves nothing in the history.
    const history = temporal('workflow', 'show', '--workflow-id', paymentId, '--output', 'json');
    expect(history.status).toBe(0);
    expect(history.stdout).not.toMatch(/WorkflowExecutionUpdateAccepted|WORKFLOW_EXECUTION_UPDATE_ACCEPTED/);
  });

  it('a plain-JSON capture signal is recorded as refused, and nothing moves', async () => {
    const signal = temporal('workflow', 'signal', '--workflow-id', paymentId, '--name', 'requestCapture', '--input', JSON.stringify({ requestId: 'crafted-capture', amount: AMOUNT }));
    expect([signal.status, signal.stderr]).toEqual([0, '']);
    const seen = await eventually(payment, (r) => (r.body.timeline ?? []).some((e: { event: string }) => e.event === 'request.refused'));
    expect(seen.body.timeline).toContainEqual(expect.objectContaining({ event: 'request.refused', detail: 'capture: unencrypted_payload' }));
    expect(seen.body).toMatchObject({ status: 'requires_capture', amount_captured: 0, amount_capturable: AMOUNT });
    expect(await ledger()).toEqual(['authorization:approved']);
  });

  it('the payment is not stuck: the merchant captures it through the API afterwards', async () => {
    const capture = await stack.request('POST', `/v1/payments/${paymentId}/capture`, { merchant: MERCHANT, body: {} });
    expect([capture.status, capture.body.status]).toEqual([200, 'captured']);
    expect(await ledger()).toEqual(['authorization:approved', 'capture:succeeded']);
  });

  it('a payment workflow started with plain input fails at once, without running any activity', async () => {
    const workflowId = `crafted-start-${randomUUID()}`;
    const start = temporal(
      'workflow', 'execute', '--type', 'paymentWorkflow', '--task-queue', TASK_QUEUES.payments, '--workflow-id', workflowId,
      '--input', JSON.stringify({ merchantId: MERCHANT, amount: AMOUNT, currency: 'USD', captureMethod: 'automatic' }),
    );
    expect(start.status).not.toBe(0);
    const history = temporal('workflow', 'show', '--workflow-id', workflowId, '--output', 'json');
    expect(history.stdout).toMatch(/unencrypted_payload/);
    expect(history.stdout).not.toMatch(/ActivityTaskScheduled|ACTIVITY_TASK_SCHEDULED/);
  });
});
