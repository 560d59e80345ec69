import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Stripe from 'stripe';
import { auditLedger, formatViolation, type AuditedPayment } from '../helpers/ledger-audit';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { ROOT } from '../helpers/processes';
import { simulatedCard, TEST_CARDS } from '../helpers/test-cards';

/**
 * A merchant's Stripe integration, unchanged but for where it points: the official `stripe` client
 * (pinned in package.json) against the whole gateway (docs/stripe-compat.md), configured with only
 * `host`, `port` and `protocol`. Every payment it makes is checked against the acquirer's books.
 */
describe('the official stripe client against the gateway', () => {
  let gateway: GatewayStack;
  let stripe: Stripe;
  let port: number;
  const M = 'm_stripe';
  const intents = new Set<string>();

  const apiKey = (...args: string[]) =>
    execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'api-key.js'), ...args], { env: gateway.stack.env, encoding: 'utf8' }).trim();
  const client = (key: string, target = port) => new Stripe(key, { host: '127.0.0.1', port: target, protocol: 'http' });
  const card = (number: string) => ({ type: 'card' as const, card: { number, exp_month: 12, exp_year: 2031, cvc: number.startsWith('37') ? '7319' : '731' } });
  // A card of its own for each approved payment method: the fraud rules' velocity counts stay out of it.
  let nextCard = 900;
  const approvedCard = () => simulatedCard(nextCard++);
  const track = <T extends { id: string }>(pi: T) => {
    intents.add(pi.id);
    return pi;
  };

  // The merchant's webhook receiver: every delivery verified with the client's constructEvent.
  let receiver: http.Server;
  let webhookSecret = '';
  const received: { id: string; type: string; created: number; stream: string }[] = [];
  const unverified: string[] = [];

  beforeAll(async () => {
    gateway = await startGatewayStack();
    port = Number(new URL(gateway.apiUrl).port);
    stripe = client(apiKey('--merchant', M));
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const event = stripe.webhooks.constructEvent(Buffer.concat(chunks), String(req.headers['stripe-signature']), webhookSecret);
          const object = event.data.object as { id: string; object: string; payment_intent?: string };
          received.push({ id: event.id, type: event.type, created: event.created, stream: object.object === 'payment_intent' ? object.id : object.payment_intent! });
          res.writeHead(200).end();
        } catch (err) {
          unverified.push((err as Error).message);
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const endpoint = await stripe.webhookEndpoints.create({ url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/stripe`, enabled_events: ['*'] });
    webhookSecret = endpoint.secret!;
    expect(webhookSecret).toMatch(/^whsec_/);
    expect((await stripe.webhookEndpoints.retrieve(endpoint.id)).secret).toBeUndefined();
  }, 180_000);
  afterAll(async () => {
    await gateway?.stop();
    receiver?.close();
  });

  it('creates a payment method backed by a vault token, and reads it back', async () => {
    const pm = await stripe.paymentMethods.create(card(TEST_CARDS.visa));
    expect(pm).toMatchObject({ object: 'payment_method', type: 'card', card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2031 } });
    expect(pm.id).toMatch(/^pm_[A-Za-z0-9]{24}$/);
    expect(pm.card!.fingerprint).toMatch(/.{8,}/);
    expect(JSON.stringify(pm)).not.toMatch(/tok_|4242424242424242|731/);
    expect(await stripe.paymentMethods.retrieve(pm.id)).toEqual(pm);
    expect(pm.lastResponse.headers['request-id']).toMatch(/^req_/);
    expect(pm.lastResponse.headers['stripe-version']).toBe(Stripe.API_VERSION);
  });

  it('create-and-confirm captures; the same payment method again pays as a stored card, without its CVC', async () => {
    const pm = await stripe.paymentMethods.create(card(TEST_CARDS.mastercard));
    const first = track(await stripe.paymentIntents.create({ amount: 2000, currency: 'eur', payment_method: pm.id, confirm: true, metadata: { order: 'A-1' } }));
    expect(first).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 2000, amount_received: 2000, currency: 'eur', payment_method: pm.id, metadata: { order: 'A-1' } });
    expect(first.latest_charge).toMatch(/^ch_/);
    const again = track(await stripe.paymentIntents.create({ amount: 700, currency: 'eur', payment_method: pm.id, confirm: true }));
    expect(again.status).toBe('succeeded');
    const timeline = (await gateway.request('GET', `/v1/payments/${(again as unknown as { gateway_payment: string }).gateway_payment}`, { merchant: M })).body.timeline;
    expect(timeline.map((e: { event: string; detail?: string }) => `${e.event}:${e.detail ?? ''}`)).toContain('card.stored:stored credential, no CVC');
  });

  it('confirms later, with the payment method given at confirmation', async () => {
    const pm = await stripe.paymentMethods.create(card(approvedCard()));
    const created = track(await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', description: 'later' }));
    expect(created.status).toBe('requires_payment_method');
    const updated = await stripe.paymentIntents.update(created.id, { metadata: { step: 'updated' }, description: 'confirm later' });
    expect(updated).toMatchObject({ metadata: { step: 'updated' }, description: 'confirm later' });
    const confirmed = await stripe.paymentIntents.confirm(created.id, { payment_method: pm.id });
    expect(confirmed).toMatchObject({ status: 'succeeded', amount_received: 1500, payment_method: pm.id });
    expect((await stripe.paymentIntents.retrieve(created.id)).status).toBe('succeeded');
    await expect(stripe.paymentIntents.confirm(created.id)).rejects.toMatchObject({ type: 'StripeInvalidRequestError', code: 'payment_intent_unexpected_state' });
  });

  it('captures in part with manual capture, and cancels (before and after authorization)', async () => {
    const pm = await stripe.paymentMethods.create(card(approvedCard()));
    const held = track(await stripe.paymentIntents.create({ amount: 5000, currency: 'eur', payment_method: pm.id, capture_method: 'manual', confirm: true }));
    expect(held).toMatchObject({ status: 'requires_capture', amount_capturable: 5000, amount_received: 0 });
    const captured = await stripe.paymentIntents.capture(held.id, { amount_to_capture: 3200 });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 3200, amount_capturable: 0 });

    const pm2 = await stripe.paymentMethods.create(card(approvedCard()));
    const toCancel = track(await stripe.paymentIntents.create({ amount: 900, currency: 'eur', payment_method: pm2.id, capture_method: 'manual', confirm: true }));
    const canceled = await stripe.paymentIntents.cancel(toCancel.id, { cancellation_reason: 'requested_by_customer' });
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'requested_by_customer', amount_capturable: 0 });
    expect(canceled.canceled_at).toEqual(expect.any(Number));

    const never = track(await stripe.paymentIntents.create({ amount: 100, currency: 'eur' }));
    expect(await stripe.paymentIntents.cancel(never.id, { cancellation_reason: 'abandoned' })).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    await expect(stripe.paymentIntents.capture(never.id)).rejects.toMatchObject({ type: 'StripeInvalidRequestError', code: 'payment_intent_unexpected_state' });
  });

  it('refunds in part and in full, refuses an over-refund, and lists and reads refunds', async () => {
    const pm = await stripe.paymentMethods.create(card(approvedCard()));
    const pi = track(await stripe.paymentIntents.create({ amount: 4000, currency: 'gbp', payment_method: pm.id, confirm: true }));
    const partial = await stripe.refunds.create({ payment_intent: pi.id, amount: 1500, reason: 'requested_by_customer', metadata: { ticket: 'T-9' } });
    expect(partial).toMatchObject({ object: 'refund', amount: 1500, currency: 'gbp', payment_intent: pi.id, status: 'succeeded', reason: 'requested_by_customer', metadata: { ticket: 'T-9' } });
    await expect(stripe.refunds.create({ payment_intent: pi.id, amount: 2600 })).rejects.toMatchObject({ type: 'StripeInvalidRequestError', code: 'amount_too_large' });
    const rest = await stripe.refunds.create({ payment_intent: pi.id });
    expect(rest).toMatchObject({ amount: 2500, status: 'succeeded' });
    expect(await stripe.refunds.retrieve(partial.id)).toEqual(partial);
    const listed = await stripe.refunds.list({ payment_intent: pi.id });
    expect(listed.data.map((r) => r.id).sort()).toEqual([partial.id, rest.id].sort());
    await expect(stripe.refunds.create({ payment_intent: pi.id, amount: 1 })).rejects.toMatchObject({ type: 'StripeInvalidRequestError' });
  });

  it.each([
    ['declinedGeneric', 'generic_decline'],
    ['declinedInsufficientFunds', 'insufficient_funds'],
    ['declinedIncorrectCvc', 'incorrect_cvc'],
    ['declinedExpired', 'expired_card'],
    ['fraudBlocklisted', 'fraudulent'],
  ] as const)('a decline (%s) is a StripeCardError with decline_code %s, and the intent may be confirmed again', async (name, declineCode) => {
    const pm = await stripe.paymentMethods.create(card(TEST_CARDS[name]));
    let error: unknown;
    try {
      await stripe.paymentIntents.create({ amount: 1234, currency: 'eur', payment_method: pm.id, confirm: true });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    const cardError = error as Stripe.errors.StripeCardError;
    expect(cardError).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: declineCode });
    const declined = cardError.payment_intent!;
    track(declined);
    expect(declined).toMatchObject({ status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: declineCode } });
    if (name === 'declinedGeneric') {
      const good = await stripe.paymentMethods.create(card(approvedCard()));
      expect(await stripe.paymentIntents.confirm(declined.id, { payment_method: good.id })).toMatchObject({ status: 'succeeded', amount_received: 1234 });
    }
  });

  it('replays an idempotent request, refuses its key with other parameters, and survives the client retrying a lost answer', async () => {
    const pm = await stripe.paymentMethods.create(card(approvedCard()));
    const params = { amount: 3100, currency: 'eur', payment_method: pm.id, confirm: true };
    const first = track(await stripe.paymentIntents.create(params, { idempotencyKey: 'order-3100' }));
    const again = await stripe.paymentIntents.create(params, { idempotencyKey: 'order-3100' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    await expect(stripe.paymentIntents.create({ ...params, amount: 3101 }, { idempotencyKey: 'order-3100' })).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    // A refused request saves nothing: the key is still free for a valid one.
    await expect(stripe.paymentIntents.create({ ...params, amount: -1 }, { idempotencyKey: 'order-3200' })).rejects.toMatchObject({ type: 'StripeInvalidRequestError', param: 'amount' });
    track(await stripe.paymentIntents.create({ ...params, amount: 3200 }, { idempotencyKey: 'order-3200' }));

    // The answer lost on the way back: a proxy lets the request through, then drops the connection
    // before answering. The client retries on its own, with the Idempotency-Key it generated.
    let dropped = 0;
    const proxy = http.createServer((req, res) => {
      // nosemgrep: gateway.express-tainted-sink -- a test proxy that forwards the client's request verbatim to the gateway on 127.0.0.1
      const upstream = http.request({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          if (req.method === 'POST' && req.url === '/v1/payment_intents' && dropped === 0) {
            dropped++;
            req.socket.destroy();
            return;
          }
          res.writeHead(answer.statusCode!, answer.headers);
          res.end(Buffer.concat(chunks));
        });
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const viaProxy = client(apiKey('--merchant', M), (proxy.address() as { port: number }).port);
      const before = (await stripe.paymentIntents.list({ limit: 100 })).data.length;
      const retried = track(await viaProxy.paymentIntents.create({ amount: 3300, currency: 'eur', payment_method: pm.id, confirm: true }));
      expect(dropped).toBe(1);
      expect(retried.status).toBe('succeeded');
      expect(retried.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect((await stripe.paymentIntents.list({ limit: 100 })).data.length).toBe(before + 1);
    } finally {
      proxy.close();
    }
  });

  it('auto-paginates with for await over more than one page, newest first, within a created range', async () => {
    // From the next whole second: earlier tests' intents stay out of the range.
    await new Promise((resolve) => setTimeout(resolve, 1005 - (Date.now() % 1000)));
    const since = Math.floor(Date.now() / 1000);
    const made: string[] = [];
    for (let i = 0; i < 23; i++) made.push(track(await stripe.paymentIntents.create({ amount: 100 + i, currency: 'eur', metadata: { page: String(i) } })).id);
    const seen: { id: string; created: number }[] = [];
    for await (const pi of stripe.paymentIntents.list({ limit: 5, created: { gte: since } })) seen.push({ id: pi.id, created: pi.created });
    // Every one once, newest first (intents made in the same millisecond are ordered by id, as a cursor needs).
    expect(seen.map((p) => p.id).sort()).toEqual([...made].sort());
    expect(seen.map((p) => p.created)).toEqual(seen.map((p) => p.created).sort((a, b) => b - a));
    const firstPage = await stripe.paymentIntents.list({ limit: 5, created: { gte: since } });
    expect(firstPage).toMatchObject({ object: 'list', has_more: true, url: '/v1/payment_intents' });
    expect(firstPage.data.map((p) => p.id)).toEqual(seen.slice(0, 5).map((p) => p.id));
    // And back: the five just before the 13th, in the same order.
    const back = await stripe.paymentIntents.list({ limit: 5, ending_before: seen[12]!.id, created: { gte: since } });
    expect(back.data.map((p) => p.id)).toEqual(seen.slice(7, 12).map((p) => p.id));
    expect(back.has_more).toBe(true);
  });

  it('refuses a bad, revoked or under-scoped key as Stripe would', async () => {
    await expect(client(`sk_test_${'x'.repeat(32)}`).paymentIntents.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    const key = apiKey('--merchant', M);
    expect((await client(key).paymentIntents.list({ limit: 1 })).object).toBe('list');
    // The gateway's own API takes the key as well.
    expect((await fetch(`${gateway.apiUrl}/v1/payments?limit=1`, { headers: { Authorization: `Bearer ${key}` } })).status).toBe(200);
    const id = apiKey('--list', '--merchant', M).split('\n').map((l) => l.split('\t')).find((cols) => key.endsWith(cols[3]!.split('…')[1]!))![0]!;
    apiKey('--revoke', id);
    await expect(client(key).paymentIntents.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    const readOnly = client(apiKey('--merchant', M, '--scope', 'payments:read'));
    expect(readOnly).toBeDefined();
    expect((await readOnly.paymentIntents.list({ limit: 1 })).object).toBe('list');
    await expect(readOnly.paymentIntents.create({ amount: 100, currency: 'eur' })).rejects.toBeInstanceOf(Stripe.errors.StripePermissionError);
    // Another merchant's key does not see this merchant's intents.
    const other = client(apiKey('--merchant', 'm_other'));
    await expect(other.paymentIntents.retrieve([...intents][0]!)).rejects.toMatchObject({ type: 'StripeInvalidRequestError', code: 'resource_missing', statusCode: 404 });
    // No key ever reaches the API's log.
    expect(fs.readFileSync(gateway.api.logFile, 'utf8')).not.toMatch(/[sr]k_test_[A-Za-z0-9]{8}/);
  });

  it('every event reaches the webhook receiver once, verified, in order per payment intent; /v1/events lists them', async () => {
    const listed: Stripe.Event[] = [];
    for await (const event of stripe.events.list({ limit: 50 })) listed.push(event);
    expect(listed.length).toBeGreaterThan(40);
    const until = Date.now() + 30_000;
    while (received.length < listed.length && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(unverified).toEqual([]);
    expect(received.map((e) => e.id).sort()).toEqual(listed.map((e) => e.id).sort());
    expect(new Set(received.map((e) => e.id)).size).toBe(received.length);
    for (const id of intents) {
      const stream = received.filter((e) => e.stream === id);
      expect({ id, first: stream[0]?.type }).toEqual({ id, first: 'payment_intent.created' });
      expect(stream.map((e) => e.created)).toEqual(stream.map((e) => e.created).sort((a, b) => a - b));
    }
    const types = new Set(received.map((e) => e.type));
    for (const type of ['payment_intent.succeeded', 'payment_intent.amount_capturable_updated', 'payment_intent.canceled', 'payment_intent.payment_failed', 'refund.created', 'refund.updated', 'charge.refunded']) expect(types).toContain(type);
    expect(await stripe.events.retrieve(listed[0]!.id)).toMatchObject({ id: listed[0]!.id, type: listed[0]!.type });
    // The merchant sees the endpoint's attempts: here, one delivery per event.
    const [endpoint] = (await stripe.webhookEndpoints.list()).data;
    const attempts = (await (await fetch(`${gateway.apiUrl}/v1/webhook_endpoints/${endpoint!.id}/attempts?limit=100`, { headers: { Authorization: `Bearer ${apiKey('--merchant', M)}` } })).json()) as { data: { outcome: string; http_status: number }[] };
    expect(attempts.data.length).toBe(Math.min(100, received.length));
    expect(new Set(attempts.data.map((a) => `${a.outcome}:${a.http_status}`))).toEqual(new Set(['delivered:200']));
  });

  it("parses Stripe's form encoding (a[b]=, expand[]=, expand[0]=), names unknown and missing parameters, echoes Stripe-Version", async () => {
    const key = apiKey('--merchant', M);
    const post = (p: string, form: string, headers: Record<string, string> = {}) =>
      fetch(`${gateway.apiUrl}${p}`, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: form });
    const nested = await post('/v1/payment_intents', 'amount=500&currency=eur&metadata[order]=F-1&metadata[note]=two%20words&expand[]=latest_charge&expand[]=payment_method', { 'Stripe-Version': '2024-06-20' });
    expect(nested.status).toBe(200);
    expect(nested.headers.get('stripe-version')).toBe('2024-06-20');
    expect(track((await nested.json()) as { id: string })).toMatchObject({ amount: 500, currency: 'eur', metadata: { order: 'F-1', note: 'two words' }, status: 'requires_payment_method' });
    const indexed = await post('/v1/payment_intents', 'amount=501&currency=eur&expand[0]=latest_charge');
    expect(indexed.status).toBe(200);
    track((await indexed.json()) as { id: string });
    const unknown = await post('/v1/payment_intents', 'amount=500&currency=eur&colour=red');
    expect({ status: unknown.status, body: await unknown.json() }).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error', code: 'parameter_unknown', param: 'colour' } } });
    const missing = await post('/v1/payment_intents', 'currency=eur');
    expect({ status: missing.status, body: await missing.json() }).toMatchObject({ status: 400, body: { error: { code: 'parameter_missing', param: 'amount' } } });
    const badCard = await post('/v1/payment_methods', `type=card&card[number]=${TEST_CARDS.visa.slice(0, 15)}3&card[exp_month]=12&card[exp_year]=2031&card[cvc]=731`);
    const badBody = await badCard.text();
    expect(badCard.status).toBe(402);
    expect(JSON.parse(badBody)).toMatchObject({ error: { type: 'card_error', param: 'card[number]' } });
    expect(badBody).not.toContain(TEST_CARDS.visa.slice(0, 12));
  });

  it('every payment behind the intents agrees with the acquirer sandbox ledger', async () => {
    const payments: AuditedPayment[] = [];
    for (const id of intents) {
      const pi = (await stripe.paymentIntents.retrieve(id)) as unknown as Stripe.PaymentIntent & { gateway_payment: string | null };
      if (!pi.gateway_payment) continue;
      const view = (await gateway.request('GET', `/v1/payments/${pi.gateway_payment}`, { merchant: M })).body;
      payments.push(view);
      // The intent says what its payment says.
      expect(pi.amount_received).toBe(view.amount_captured);
    }
    expect(payments.length).toBeGreaterThan(10);
    const ledger = (await gateway.sandbox.ledger()).filter((e) => payments.some((p) => e.idempotency_key.startsWith(`${p.id}:`)));
    expect(auditLedger(payments, ledger).map(formatViolation)).toEqual([]);
  });
});
