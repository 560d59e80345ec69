import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { WebhookEndpoints, type WebhookEndpointRow } from '../../src/events/webhook-endpoints';
import { requestCancelSignal, requestRefundSignal } from '../../src/workflows/payment/definitions';
import { createLifecycleEnv, DAY, type LifecycleEnv } from '../helpers/lifecycle-env';
import { ask, decided, settledOn } from '../helpers/payment-requests';
import { TEST_CARDS } from '../helpers/test-cards';

const HOUR = 3600_000;

/**
 * Webhook delivery on Temporal's time-skipping server (docs/stripe-compat.md, "Webhooks and
 * events"): real payments emit their events through the real records worker activities into the
 * real outbox; the real delivery workflow sends them, signed, to a real HTTP receiver that
 * verifies each with the official client's `webhooks.constructEvent`. Only the clock skips.
 */
describe('webhook delivery (time-skipping)', () => {
  let life: LifecycleEnv;
  let endpoint: WebhookEndpointRow;
  let server: http.Server;
  let up = false;
  const delivered: { id: string; type: string; stream: string }[] = [];
  const refused: string[] = [];
  const verifier = new Stripe('sk_test_verifier_only_no_requests_made');

  beforeAll(async () => {
    life = await createLifecycleEnv();
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (!up) {
          res.writeHead(503).end();
          return;
        }
        try {
          const event = verifier.webhooks.constructEvent(Buffer.concat(chunks), String(req.headers['stripe-signature']), endpoint.secret);
          const object = event.data.object as { id: string; object: string; payment_intent?: string };
          delivered.push({ id: event.id, type: event.type, stream: object.object === 'payment_intent' ? object.id : object.payment_intent! });
          res.writeHead(200).end('{}');
        } catch (err) {
          refused.push((err as Error).message);
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = await new WebhookEndpoints(life.db).create('m_test', { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, enabledEvents: ['*'] });
  });
  afterAll(async () => {
    await life?.teardown();
    server?.close();
  });

  const outbox = async () => life.db.query<{ id: string; stream: string; seq: number; type: string }>('SELECT id, stream, seq, type FROM stripe_events ORDER BY stream, seq');
  const attempts = async () => life.db.query<{ outcome: string }>('SELECT outcome FROM webhook_attempts WHERE endpoint_id = $1', [endpoint.id]);

  it('with the receiver down for six hours and then up, every event arrives once per id, in order per payment', async () => {
    await life.withWorkers(async () => {
      const captured = await life.startPayment({ card: TEST_CARDS.visa, amount: 2500 });
      await decided(captured);
      await ask(captured, requestRefundSignal, { refundId: `re_${'A'.repeat(24)}`, amount: 700 }, (s) => s.refunds.every((r) => r.status !== 'pending'));
      const held = await life.startPayment({ card: TEST_CARDS.mastercard, captureMethod: 'manual' });
      await settledOn(held, (s) => s.status === 'requires_capture');
      await ask(held, requestCancelSignal, {}, (s) => s.status === 'canceled');
      const declined = await life.startPayment({ card: TEST_CARDS.declinedGeneric });
      await decided(declined);

      await life.env.sleep(6 * HOUR);
      expect(delivered).toEqual([]);
      expect((await attempts()).filter((a) => a.outcome === 'failed').length).toBeGreaterThanOrEqual(3 * 5);

      up = true;
      await life.env.sleep(12 * HOUR);
      const events = await outbox();
      expect(events.map((e) => e.type).sort()).toEqual(
        [
          'payment_intent.created', 'payment_intent.succeeded', 'refund.created', 'refund.updated', 'charge.refunded',
          'payment_intent.created', 'payment_intent.amount_capturable_updated', 'payment_intent.canceled',
          'payment_intent.created', 'payment_intent.payment_failed',
        ].sort(),
      );
      // Once per id, and per payment in the order the events happened.
      expect(delivered.map((d) => d.id).sort()).toEqual(events.map((e) => e.id).sort());
      for (const stream of [captured.workflowId, held.workflowId, declined.workflowId]) {
        expect({ stream, order: delivered.filter((d) => d.stream === stream).map((d) => d.id) }).toEqual({ stream, order: events.filter((e) => e.stream === stream).map((e) => e.id) });
      }
      expect(refused).toEqual([]);
      for (const h of [held, declined]) await h.result();
    });
  });

  it('after five days down the endpoint is disabled, and its deliveries stop', async () => {
    await life.withWorkers(async () => {
      up = false;
      const before = delivered.length;
      const payment = await life.startPayment({ card: TEST_CARDS.amex, captureMethod: 'manual' });
      await settledOn(payment, (s) => s.status === 'requires_capture');
      await life.env.sleep(4 * DAY);
      expect((await new WebhookEndpoints(life.db).get(endpoint.id))?.status).toBe('enabled');
      await life.env.sleep(2 * DAY);
      const row = await new WebhookEndpoints(life.db).get(endpoint.id);
      expect(row).toMatchObject({ status: 'disabled' });
      expect(Number(row!.disabled_at) - Number(row!.failing_since)).toBeGreaterThanOrEqual(5 * DAY);
      const tried = (await attempts()).length;
      up = true;
      await life.env.sleep(2 * DAY);
      // Nothing more is tried, and nothing was delivered while it was down.
      expect((await attempts()).length).toBe(tried);
      expect(delivered.length).toBe(before);
      // Its authorization expired meanwhile (7 days): the payment closed canceled.
      expect((await payment.result()).status).toBe('canceled');
    });
  });
});
