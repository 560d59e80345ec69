import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import {
  AcquirerRejectedError,
  AcquirerUnavailableError,
  type AuthorizationRequest,
  type AuthorizationResult,
  type DeclineCode,
} from '../../src/acquirer/acquirer-client';
import { HttpAcquirerClient } from '../../src/acquirer/http-acquirer-client';
import { createSandboxApp } from '../../src/acquirer/sandbox/app';
import { FaultInjector } from '../../src/acquirer/sandbox/faults';
import { Ledger, type LedgerEntry } from '../../src/acquirer/sandbox/ledger';
import { createLogger } from '../../src/logging/logger';
import { TEST_CARDS, TEST_CVCS, cardSecrets } from '../helpers/test-cards';

/** Luhn-valid and in none of the sandbox's tables: "any other card". */
const OTHER_CARD = '4111111111111111';
const SECRETS = [...cardSecrets(), OTHER_CARD];

let dataDir: string;
let ledger: Ledger;
let faults: FaultInjector;
let server: http.Server;
let baseUrl: string;
let client: HttpAcquirerClient;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'acquirer-sandbox-unit-'));
  ledger = Ledger.open(path.join(dataDir, 'acquirer-sandbox.db'));
  faults = new FaultInjector();
  const app = createSandboxApp({ ledger, faults, logger: createLogger({ name: 'acquirer-sandbox', level: 'silent' }) });
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new HttpAcquirerClient({ baseUrl, timeoutMs: 5_000 });
});

afterEach(() => {
  faults.reset();
});

afterAll(async () => {
  faults.shutdown();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  ledger.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

let sequence = 0;
function newKey(step: string): string {
  sequence += 1;
  return `pay_${sequence}:${step}`;
}

function authorization(pan: string, overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
  return {
    pan,
    expMonth: 12,
    expYear: 2030,
    cvc: pan.startsWith('37') ? TEST_CVCS[1] : TEST_CVCS[0],
    amount: 1999,
    currency: 'USD',
    merchantId: 'm_sandbox',
    idempotencyKey: newKey('authorize'),
    ...overrides,
  };
}

async function approvedAuthorization(pan: string = TEST_CARDS.visa, amount = 1999): Promise<string> {
  const result = await client.authorize(authorization(pan, { amount }));
  if (result.outcome !== 'approved') throw new Error(`expected an approval, got ${result.outcome}`);
  return result.acquirerRef;
}

async function capturedAuthorization(pan: string = TEST_CARDS.visa, amount = 1999): Promise<{ authorizationRef: string; captureRef: string }> {
  const authorizationRef = await approvedAuthorization(pan, amount);
  const { acquirerRef } = await client.capture({ authorizationRef, amount, idempotencyKey: newKey('capture') });
  return { authorizationRef, captureRef: acquirerRef };
}

function rowsOf(ref: string): LedgerEntry[] {
  return ledger.entries().filter((e) => e.ref === ref || e.parent_ref === ref);
}

function childrenOf(ref: string, kind: LedgerEntry['kind']): LedgerEntry[] {
  return ledger.entries().filter((e) => e.parent_ref === ref && e.kind === kind);
}

function expectNoCardData(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

async function expectRejected(call: Promise<unknown>, code: string): Promise<AcquirerRejectedError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AcquirerRejectedError);
  expect((err as AcquirerRejectedError).code).toBe(code);
  expectNoCardData((err as Error).message);
  return err as AcquirerRejectedError;
}

async function expectUnavailable(call: Promise<unknown>): Promise<AcquirerUnavailableError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AcquirerUnavailableError);
  expectNoCardData((err as Error).message);
  return err as AcquirerUnavailableError;
}

/** A raw call, for what the typed client cannot send (a missing key, a malformed body). */
async function post(urlPath: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(`${baseUrl}${urlPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined, headers: response.headers };
}

function rawAuthorization(pan: string, overrides: Record<string, unknown> = {}) {
  return { pan, exp_month: 12, exp_year: 2030, cvc: TEST_CVCS[0], amount: 1999, currency: 'USD', merchant_id: 'm_sandbox', ...overrides };
}

describe('acquirer sandbox: service', () => {
  it('GET /healthz answers 200', async () => {
    const response = await fetch(`${baseUrl}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('refuses a POST without an Idempotency-Key (400), and records nothing', async () => {
    const before = ledger.entries().length;
    const answer = await post('/v1/authorizations', rawAuthorization(TEST_CARDS.visa));
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: { code: 'idempotency_key_missing', message: expect.any(String) } });
    expect((await post('/v1/authorizations/auth_x/capture', { amount: 1 })).status).toBe(400);
    expect(ledger.entries()).toHaveLength(before);
  });

  it.each([
    ['a zero amount', { amount: 0 }, 'amount'],
    ['a fractional amount', { amount: 10.5 }, 'amount'],
    ['a lower-case currency', { currency: 'usd' }, 'currency'],
    ['a month 13', { exp_month: 13 }, 'exp_month'],
    ['a missing merchant', { merchant_id: undefined }, 'merchant_id'],
    ['a card number failing the Luhn check', { pan: '4242424242424241' }, 'pan'],
    ['a CVC of letters', { cvc: 'abc' }, 'cvc'],
  ])('refuses %s with 400 invalid_request naming the field, without echoing card data', async (_name, overrides, param) => {
    const before = ledger.entries().length;
    const answer = await post('/v1/authorizations', rawAuthorization(TEST_CARDS.visa, overrides), { 'Idempotency-Key': newKey('authorize') });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'invalid_request', param } });
    expectNoCardData(JSON.stringify(answer.body));
    expect(ledger.entries()).toHaveLength(before);
  });

  it('answers malformed JSON with 400 invalid_json, without echoing it', async () => {
    const answer = await post('/v1/authorizations', `{"pan":"${TEST_CARDS.visa}",`, { 'Idempotency-Key': newKey('authorize') });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: { code: 'invalid_json', message: 'The request body is not valid JSON' } });
  });

  it('a validation failure is not stored: the same key with a valid body then succeeds', async () => {
    const key = newKey('authorize');
    expect((await post('/v1/authorizations', rawAuthorization(TEST_CARDS.visa, { amount: -1 }), { 'Idempotency-Key': key })).status).toBe(400);
    const result = await client.authorize(authorization(TEST_CARDS.visa, { idempotencyKey: key }));
    expect(result.outcome).toBe('approved');
  });
});

describe('acquirer sandbox: test cards', () => {
  it.each([
    ['visa', TEST_CARDS.visa],
    ['mastercard', TEST_CARDS.mastercard],
    ['amex', TEST_CARDS.amex],
    ['discover', TEST_CARDS.discover],
    ['fraud-blocklisted (the gateway declines it, not the acquirer)', TEST_CARDS.fraudBlocklisted],
    ['fraud-review (the gateway reviews it, not the acquirer)', TEST_CARDS.fraudReview],
    ['any other Luhn-valid card', OTHER_CARD],
  ])('approves %s and records the authorization with last4 and behaviour only', async (_name, pan) => {
    const request = authorization(pan, { amount: 4200, currency: 'EUR', merchantId: 'm_cards' });
    const result = await client.authorize(request);
    expect(result).toEqual({ outcome: 'approved', acquirerRef: expect.stringMatching(/^auth_[0-9a-f]{24}$/), authorizationCode: expect.stringMatching(/^[A-Z0-9]{6}$/) });
    const rows = rowsOf((result as { acquirerRef: string }).acquirerRef);
    expect(rows).toEqual([
      {
        ref: (result as { acquirerRef: string }).acquirerRef,
        kind: 'authorization',
        status: 'approved',
        parent_ref: null,
        amount: 4200,
        currency: 'EUR',
        merchant_id: 'm_cards',
        idempotency_key: request.idempotencyKey,
        card_last4: pan.slice(-4),
        card_behaviour: 'approve',
        card_exp: '12/2030',
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
  });

  it.each<[string, string, DeclineCode, string]>([
    ['generic', TEST_CARDS.declinedGeneric, 'generic_decline', 'decline_generic'],
    ['insufficient funds', TEST_CARDS.declinedInsufficientFunds, 'insufficient_funds', 'decline_insufficient_funds'],
    ['incorrect CVC', TEST_CARDS.declinedIncorrectCvc, 'incorrect_cvc', 'decline_incorrect_cvc'],
    ['expired card', TEST_CARDS.declinedExpired, 'expired_card', 'decline_expired_card'],
  ])('declines (%s) as an answer, not an error, and records it with nothing moved', async (_name, pan, declineCode, behaviour) => {
    const result = await client.authorize(authorization(pan));
    expect(result).toEqual({ outcome: 'declined', acquirerRef: expect.stringMatching(/^auth_/), declineCode, message: expect.any(String) });
    const { acquirerRef } = result as { acquirerRef: string };
    expect(rowsOf(acquirerRef)).toEqual([
      expect.objectContaining({ kind: 'authorization', status: 'declined', amount: 0, card_last4: pan.slice(-4), card_behaviour: behaviour }),
    ]);
  });

  it('answers a decline with 402 and the decline code on the wire', async () => {
    const answer = await post('/v1/authorizations', rawAuthorization(TEST_CARDS.declinedInsufficientFunds), { 'Idempotency-Key': newKey('authorize') });
    expect(answer.status).toBe(402);
    expect(answer.body).toEqual({ ref: expect.stringMatching(/^auth_/), status: 'declined', decline_code: 'insufficient_funds', message: expect.any(String) });
  });

  it('4000000000000119 fails twice with 503, then approves the same idempotency key: one authorization row', async () => {
    const request = authorization(TEST_CARDS.transientThenApproved);
    const before = ledger.entries().length;
    await expectUnavailable(client.authorize(request));
    await expectUnavailable(client.authorize(request));
    expect(ledger.entries()).toHaveLength(before);
    const third = await client.authorize(request);
    expect(third.outcome).toBe('approved');
    // A fourth call is a replay of the approval, not a new attempt.
    expect(await client.authorize(request)).toEqual(third);
    const rows = ledger.entries().filter((e) => e.idempotency_key === request.idempotencyKey);
    expect(rows).toEqual([expect.objectContaining({ kind: 'authorization', status: 'approved', card_behaviour: 'transient_then_approve' })]);
    // The count is per key: a new payment with the same card fails twice again.
    await expectUnavailable(client.authorize(authorization(TEST_CARDS.transientThenApproved)));
  });

  it('4000000000000259 is authorized, but its capture fails for good (422 capture_failed); the void compensates', async () => {
    const authorizationRef = await approvedAuthorization(TEST_CARDS.captureFails);
    const err = await expectRejected(client.capture({ authorizationRef, amount: 1999, idempotencyKey: newKey('capture') }), 'capture_failed');
    expect(err.message).toContain('422');
    expect(childrenOf(authorizationRef, 'capture')).toEqual([]);
    const voided = await client.void({ authorizationRef, idempotencyKey: newKey('void') });
    expect(voided.acquirerRef).toMatch(/^void_/);
    expect(childrenOf(authorizationRef, 'void')).toEqual([expect.objectContaining({ amount: 1999, status: 'succeeded' })]);
  });

  it('4000000000000341 is authorized and captured, but its settlement fails for good (422 settlement_failed); a refund compensates', async () => {
    const { captureRef } = await capturedAuthorization(TEST_CARDS.settlementFails, 5000);
    await expectRejected(client.settle({ captureRef, idempotencyKey: newKey('settle') }), 'settlement_failed');
    expect(childrenOf(captureRef, 'settlement')).toEqual([]);
    const refund = await client.refund({ captureRef, amount: 5000, idempotencyKey: newKey('refund') });
    expect(refund.acquirerRef).toMatch(/^ref_/);
  });
});

describe('acquirer sandbox: idempotency', () => {
  it('the same key and request twice: the same ref and outcome, one ledger row, marked as a replay', async () => {
    const request = authorization(TEST_CARDS.visa);
    const first = await client.authorize(request);
    const second = await client.authorize(request);
    expect(second).toEqual(first);
    expect(ledger.entries().filter((e) => e.idempotency_key === request.idempotencyKey)).toHaveLength(1);

    const key = newKey('authorize');
    const wire = [
      await post('/v1/authorizations', rawAuthorization(TEST_CARDS.mastercard), { 'Idempotency-Key': key }),
      await post('/v1/authorizations', rawAuthorization(TEST_CARDS.mastercard), { 'Idempotency-Key': key }),
    ];
    expect(wire.map((w) => w.status)).toEqual([201, 201]);
    expect(wire[1]!.body).toEqual(wire[0]!.body);
    expect(wire.map((w) => w.headers.get('idempotent-replayed'))).toEqual([null, 'true']);
  });

  it('replays a decline with its status (402) and ref', async () => {
    const request = authorization(TEST_CARDS.declinedGeneric);
    const first = await client.authorize(request);
    expect(await client.authorize(request)).toEqual(first);
    expect(ledger.entries().filter((e) => e.idempotency_key === request.idempotencyKey)).toHaveLength(1);
  });

  it('replays captures, voids, refunds and settlements without moving money again', async () => {
    const authorizationRef = await approvedAuthorization(TEST_CARDS.visa, 3000);
    const capture = { authorizationRef, amount: 3000, idempotencyKey: newKey('capture') };
    const captured = await client.capture(capture);
    expect(await client.capture(capture)).toEqual(captured);
    const refund = { captureRef: captured.acquirerRef, amount: 1000, idempotencyKey: newKey('refund') };
    const refunded = await client.refund(refund);
    expect(await client.refund(refund)).toEqual(refunded);
    const settle = { captureRef: captured.acquirerRef, idempotencyKey: newKey('settle') };
    const settled = await client.settle(settle);
    expect(await client.settle(settle)).toEqual(settled);
    expect(childrenOf(authorizationRef, 'capture')).toHaveLength(1);
    expect(childrenOf(captured.acquirerRef, 'refund')).toHaveLength(1);
    expect(childrenOf(captured.acquirerRef, 'settlement')).toHaveLength(1);

    const other = await approvedAuthorization();
    const voidRequest = { authorizationRef: other, idempotencyKey: newKey('void') };
    const voided = await client.void(voidRequest);
    expect(await client.void(voidRequest)).toEqual(voided);
    expect(childrenOf(other, 'void')).toHaveLength(1);
  });

  it('replays a refusal too: the answer to a key is final', async () => {
    const authorizationRef = await approvedAuthorization(TEST_CARDS.visa, 100);
    const capture = { authorizationRef, amount: 101, idempotencyKey: newKey('capture') };
    await expectRejected(client.capture(capture), 'amount_exceeds_authorized');
    await expectRejected(client.capture(capture), 'amount_exceeds_authorized');
  });

  it('the same key with a different request: 409 idempotency_key_reused, nothing moved', async () => {
    const request = authorization(TEST_CARDS.visa, { amount: 1000 });
    const first = await client.authorize(request);
    const before = ledger.entries().length;
    await expectRejected(client.authorize({ ...request, amount: 2000 }), 'idempotency_key_reused');
    // The card is part of the request (as BIN, last4 and length: no hash of the full PAN is stored).
    await expectRejected(client.authorize({ ...request, pan: TEST_CARDS.mastercard }), 'idempotency_key_reused');
    // A key of one operation is not reusable for another.
    await expectRejected(
      client.void({ authorizationRef: (first as { acquirerRef: string }).acquirerRef, idempotencyKey: request.idempotencyKey }),
      'idempotency_key_reused',
    );
    expect(ledger.entries()).toHaveLength(before);
    const wire = await post('/v1/authorizations', rawAuthorization(TEST_CARDS.visa, { amount: 3000 }), { 'Idempotency-Key': request.idempotencyKey });
    expect(wire.status).toBe(409);
    // The original answer still stands.
    expect(await client.authorize(request)).toEqual(first);
  });

  it('concurrent calls with one key move money once', async () => {
    const request = authorization(TEST_CARDS.visa);
    const results = await Promise.all(Array.from({ length: 5 }, () => client.authorize(request)));
    expect(new Set(results.map((r) => (r as { acquirerRef: string }).acquirerRef)).size).toBe(1);
    expect(ledger.entries().filter((e) => e.idempotency_key === request.idempotencyKey)).toHaveLength(1);
  });
});

describe('acquirer sandbox: money movement rules', () => {
  it('captures at most the authorized amount; a partial capture records its amount', async () => {
    const authorizationRef = await approvedAuthorization(TEST_CARDS.visa, 1000);
    await expectRejected(client.capture({ authorizationRef, amount: 1001, idempotencyKey: newKey('capture') }), 'amount_exceeds_authorized');
    const captured = await client.capture({ authorizationRef, amount: 600, idempotencyKey: newKey('capture') });
    expect(captured.acquirerRef).toMatch(/^cap_[0-9a-f]{24}$/);
    expect(childrenOf(authorizationRef, 'capture')).toEqual([
      expect.objectContaining({ ref: captured.acquirerRef, amount: 600, currency: 'USD', merchant_id: 'm_sandbox', status: 'succeeded' }),
    ]);
  });

  it('captures once: a second capture with another key is 409 already_captured and adds no row', async () => {
    const { authorizationRef } = await capturedAuthorization();
    await expectRejected(client.capture({ authorizationRef, amount: 1, idempotencyKey: newKey('capture') }), 'already_captured');
    expect(childrenOf(authorizationRef, 'capture')).toHaveLength(1);
  });

  it('of concurrent captures with different keys, exactly one succeeds', async () => {
    const authorizationRef = await approvedAuthorization();
    const settled = await Promise.allSettled(
      Array.from({ length: 4 }, () => client.capture({ authorizationRef, amount: 1999, idempotencyKey: newKey('capture') })),
    );
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    expect(settled.filter((s) => s.status === 'rejected').map((s) => ((s as PromiseRejectedResult).reason as AcquirerRejectedError).code)).toEqual([
      'already_captured',
      'already_captured',
      'already_captured',
    ]);
    expect(childrenOf(authorizationRef, 'capture')).toHaveLength(1);
  });

  it('voids an uncaptured authorization once; a voided one cannot be captured', async () => {
    const authorizationRef = await approvedAuthorization(TEST_CARDS.amex, 2500);
    const voided = await client.void({ authorizationRef, idempotencyKey: newKey('void') });
    expect(voided.acquirerRef).toMatch(/^void_/);
    expect(childrenOf(authorizationRef, 'void')).toEqual([expect.objectContaining({ amount: 2500, status: 'succeeded' })]);
    await expectRejected(client.void({ authorizationRef, idempotencyKey: newKey('void') }), 'already_voided');
    await expectRejected(client.capture({ authorizationRef, amount: 2500, idempotencyKey: newKey('capture') }), 'already_voided');
    expect(rowsOf(authorizationRef)).toHaveLength(2);
  });

  it('refuses to void a captured authorization (409 already_captured)', async () => {
    const { authorizationRef } = await capturedAuthorization();
    await expectRejected(client.void({ authorizationRef, idempotencyKey: newKey('void') }), 'already_captured');
    expect(childrenOf(authorizationRef, 'void')).toEqual([]);
  });

  it('refuses to capture or void a declined authorization, and unknown references (404 not_found)', async () => {
    const declined = await client.authorize(authorization(TEST_CARDS.declinedGeneric));
    const declinedRef = (declined as Extract<AuthorizationResult, { outcome: 'declined' }>).acquirerRef!;
    await expectRejected(client.capture({ authorizationRef: declinedRef, amount: 1, idempotencyKey: newKey('capture') }), 'authorization_declined');
    await expectRejected(client.void({ authorizationRef: declinedRef, idempotencyKey: newKey('void') }), 'authorization_declined');
    await expectRejected(client.capture({ authorizationRef: 'auth_unknown', amount: 1, idempotencyKey: newKey('capture') }), 'not_found');
    await expectRejected(client.refund({ captureRef: 'cap_unknown', amount: 1, idempotencyKey: newKey('refund') }), 'not_found');
    await expectRejected(client.settle({ captureRef: 'cap_unknown', idempotencyKey: newKey('settle') }), 'not_found');
    // A reference of the wrong kind is unknown too: an authorization is not a capture.
    const { authorizationRef } = await capturedAuthorization();
    await expectRejected(client.refund({ captureRef: authorizationRef, amount: 1, idempotencyKey: newKey('refund') }), 'not_found');
    expect(rowsOf(declinedRef)).toHaveLength(1);
  });

  it('refunds up to the captured amount: partial refunds add up, one more unit is refused', async () => {
    const { captureRef } = await capturedAuthorization(TEST_CARDS.discover, 1000);
    await client.refund({ captureRef, amount: 400, idempotencyKey: newKey('refund') });
    await expectRejected(client.refund({ captureRef, amount: 601, idempotencyKey: newKey('refund') }), 'refund_exceeds_captured');
    await client.refund({ captureRef, amount: 600, idempotencyKey: newKey('refund') });
    await expectRejected(client.refund({ captureRef, amount: 1, idempotencyKey: newKey('refund') }), 'refund_exceeds_captured');
    const refunds = childrenOf(captureRef, 'refund');
    expect(refunds.map((r) => r.amount)).toEqual([400, 600]);
    expect(refunds.every((r) => r.ref.startsWith('ref_') && r.status === 'succeeded')).toBe(true);
  });

  it('refunds only what was captured, not what was authorized', async () => {
    const authorizationRef = await approvedAuthorization(TEST_CARDS.visa, 1000);
    const { acquirerRef: captureRef } = await client.capture({ authorizationRef, amount: 700, idempotencyKey: newKey('capture') });
    await expectRejected(client.refund({ captureRef, amount: 701, idempotencyKey: newKey('refund') }), 'refund_exceeds_captured');
  });

  it('settles a capture once, for the captured amount', async () => {
    const { captureRef } = await capturedAuthorization(TEST_CARDS.visa, 1234);
    const settled = await client.settle({ captureRef, idempotencyKey: newKey('settle') });
    expect(settled.acquirerRef).toMatch(/^stl_/);
    await expectRejected(client.settle({ captureRef, idempotencyKey: newKey('settle') }), 'already_settled');
    expect(childrenOf(captureRef, 'settlement')).toEqual([expect.objectContaining({ ref: settled.acquirerRef, amount: 1234, status: 'succeeded' })]);
  });

  it('a whole payment leaves exactly one authorization, one capture and one settlement', async () => {
    const { authorizationRef, captureRef } = await capturedAuthorization(TEST_CARDS.mastercard, 999);
    await client.settle({ captureRef, idempotencyKey: newKey('settle') });
    const rows = [...rowsOf(authorizationRef), ...childrenOf(captureRef, 'settlement')];
    expect(rows.map((r) => r.kind)).toEqual(['authorization', 'capture', 'settlement']);
    expect(rows.map((r) => r.amount)).toEqual([999, 999, 999]);
  });

  it('GET /_sandbox/ledger returns every row, with no card number or CVC field', async () => {
    const response = await fetch(`${baseUrl}/_sandbox/ledger`);
    expect(response.status).toBe(200);
    const { entries } = (await response.json()) as { entries: LedgerEntry[] };
    expect(entries).toEqual(ledger.entries());
    expect(Object.keys(entries[0]!).sort()).toEqual(
      ['amount', 'card_behaviour', 'card_exp', 'card_last4', 'created_at', 'currency', 'idempotency_key', 'kind', 'merchant_id', 'parent_ref', 'ref', 'status'].sort(),
    );
  });
});

describe('acquirer sandbox: fault knobs', () => {
  async function faultsOverHttp(method: 'GET' | 'PUT' | 'DELETE', body?: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${baseUrl}/_sandbox/faults`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json() };
  }

  const DEFAULT_KNOBS = {
    latencyMs: 0,
    errorRate: 0,
    hangRate: 0,
    hangMs: 60_000,
    lostAnswerRate: 0,
    lateAnswerRate: 0,
    lateAnswerMs: 15_000,
    operations: ['authorize', 'capture', 'void', 'refund', 'settle'],
    injected: { error: 0, hang: 0, lose_answer: 0, late_answer: 0 },
  };

  it('sets, reads and resets the knobs over HTTP, and refuses invalid ones', async () => {
    expect(await faultsOverHttp('GET')).toEqual({ status: 200, body: DEFAULT_KNOBS });
    expect(await faultsOverHttp('PUT', { errorRate: 0.25, latencyMs: 5 })).toEqual({
      status: 200,
      body: { ...DEFAULT_KNOBS, latencyMs: 5, errorRate: 0.25 },
    });
    expect((await faultsOverHttp('GET')).body).toMatchObject({ errorRate: 0.25, latencyMs: 5 });
    expect((await faultsOverHttp('PUT', { errorRate: 2 })).status).toBe(400);
    expect((await faultsOverHttp('PUT', { errorRate: 0.6, hangRate: 0.6 })).status).toBe(400);
    expect((await faultsOverHttp('PUT', { errorRat: 1 })).status).toBe(400);
    expect((await faultsOverHttp('GET')).body).toMatchObject({ errorRate: 0.25 });
    expect((await faultsOverHttp('PUT', { lostAnswerRate: 0.5, lateAnswerRate: 0.6 })).status).toBe(400);
    expect((await faultsOverHttp('PUT', { operations: ['inquire'] })).status).toBe(400);
    expect(await faultsOverHttp('DELETE')).toEqual({ status: 200, body: DEFAULT_KNOBS });
  });

  it('errorRate 1: every money call answers 503, the client throws AcquirerUnavailableError, the ledger is unchanged', async () => {
    const authorizationRef = await approvedAuthorization();
    const request = authorization(TEST_CARDS.visa);
    const before = ledger.entries();
    faults.set({ errorRate: 1 });
    await expectUnavailable(client.authorize(request));
    await expectUnavailable(client.capture({ authorizationRef, amount: 1999, idempotencyKey: newKey('capture') }));
    await expectUnavailable(client.void({ authorizationRef, idempotencyKey: newKey('void') }));
    const wire = await post('/v1/authorizations', rawAuthorization(TEST_CARDS.visa), { 'Idempotency-Key': newKey('authorize') });
    expect(wire.status).toBe(503);
    expect(wire.body).toEqual({ error: { code: 'acquirer_unavailable', message: expect.any(String) } });
    expect(ledger.entries()).toEqual(before);
    // The 503 was not stored: the same key goes through once the acquirer is back.
    faults.reset();
    expect((await client.authorize(request)).outcome).toBe('approved');
  });

  it('a hang longer than the client timeout: AcquirerUnavailableError, and nothing is recorded, even after the hang', async () => {
    const request = authorization(TEST_CARDS.visa);
    const before = ledger.entries();
    faults.set({ hangRate: 1, hangMs: 300 });
    const impatient = new HttpAcquirerClient({ baseUrl, timeoutMs: 100 });
    const err = await expectUnavailable(impatient.authorize(request));
    expect(err.message).toMatch(/within 100 ms/);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(ledger.entries()).toEqual(before);
    // A patient client sees the 503 the hang ends with.
    await expectUnavailable(client.authorize(request));
    expect(ledger.entries()).toEqual(before);
    faults.reset();
    expect((await client.authorize(request)).outcome).toBe('approved');
    expect(ledger.entries()).toHaveLength(before.length + 1);
  });

  it('latencyMs delays every money call, which then goes through', async () => {
    faults.set({ latencyMs: 250 });
    const started = Date.now();
    const result = await client.authorize(authorization(TEST_CARDS.visa));
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(result.outcome).toBe('approved');
  });

  it('latency beyond the client timeout: the client gives up but the acquirer did authorize; the retry replays it', async () => {
    const request = authorization(TEST_CARDS.visa);
    faults.set({ latencyMs: 300 });
    await expectUnavailable(new HttpAcquirerClient({ baseUrl, timeoutMs: 100 }).authorize(request));
    await new Promise((resolve) => setTimeout(resolve, 400));
    faults.reset();
    const rows = () => ledger.entries().filter((e) => e.idempotency_key === request.idempotencyKey);
    expect(rows()).toHaveLength(1);
    const retried = await client.authorize(request);
    expect(retried).toMatchObject({ outcome: 'approved', acquirerRef: rows()[0]!.ref });
    expect(rows()).toHaveLength(1);
  });

  it('a seed makes the sequence of faults reproducible', async () => {
    const draws = async (injector: FaultInjector) => {
      const outcomes: string[] = [];
      for (let i = 0; i < 40; i++) outcomes.push(await injector.inject('capture'));
      return outcomes;
    };
    const a = await draws(new FaultInjector({ errorRate: 0.5, seed: 7 }));
    const b = await draws(new FaultInjector({ errorRate: 0.5, seed: 7 }));
    expect(a).toEqual(b);
    expect(a).toContain('error');
    expect(a).toContain('proceed');
  });
});

describe('acquirer sandbox: faults after the work (lost and late answers)', () => {
  it('lostAnswerRate 1: the work is done, the connection closes unanswered, a retry with the same key replays it and moves nothing twice', async () => {
    const request = authorization(TEST_CARDS.visa);
    faults.set({ lostAnswerRate: 1 });
    await expectUnavailable(client.authorize(request));
    const rows = ledger.entries().filter((e) => e.idempotency_key === request.idempotencyKey);
    expect(rows).toEqual([expect.objectContaining({ kind: 'authorization', status: 'approved' })]);
    faults.reset();
    const retried = await client.authorize(request);
    expect(retried).toMatchObject({ outcome: 'approved', acquirerRef: rows[0]!.ref });
    expect(ledger.entries().filter((e) => e.idempotency_key === request.idempotencyKey)).toHaveLength(1);
  });

  it('lateAnswerRate 1: the work is done at once, the impatient client gives up, the answer arrives after lateAnswerMs', async () => {
    const authorizationRef = await approvedAuthorization();
    faults.set({ lateAnswerRate: 1, lateAnswerMs: 600, operations: ['capture'] });
    const impatient = new HttpAcquirerClient({ baseUrl, timeoutMs: 150 });
    const key = newKey('capture');
    await expectUnavailable(impatient.capture({ authorizationRef, amount: 1999, idempotencyKey: key }));
    expect(childrenOf(authorizationRef, 'capture')).toHaveLength(1);
    // The same call, waiting long enough, gets the (replayed) answer late.
    const started = Date.now();
    const patient = await post(`/v1/authorizations/${authorizationRef}/capture`, { amount: 1999 }, { 'Idempotency-Key': key });
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(patient.status).toBe(201);
    expect(patient.body).toEqual({ ref: childrenOf(authorizationRef, 'capture')[0]!.ref });
    expect(faults.current().injected).toMatchObject({ late_answer: 2 });
  });

  it('operations limits the knobs to the operations named; the others draw nothing', async () => {
    faults.set({ errorRate: 1, operations: ['refund'] });
    const { captureRef } = await capturedAuthorization();
    await expectUnavailable(client.refund({ captureRef, amount: 100, idempotencyKey: newKey('refund') }));
    expect(faults.current().injected).toEqual({ error: 1, hang: 0, lose_answer: 0, late_answer: 0 });
  });

  it('a seed replays the same sequence of fault modes', async () => {
    const modes = async () => {
      const injector = new FaultInjector({ errorRate: 0.2, lostAnswerRate: 0.2, lateAnswerRate: 0.2, lateAnswerMs: 0, seed: 7 });
      const out: string[] = [];
      for (let i = 0; i < 50; i++) out.push(await injector.inject('capture'));
      return out;
    };
    const first = await modes();
    expect(await modes()).toEqual(first);
    expect(new Set(first)).toEqual(new Set(['proceed', 'error', 'lose_answer', 'late_answer']));
  });
});

describe('acquirer sandbox: status inquiry and timeout reversal', () => {
  it('an inquiry returns the stored answer of each operation, a refusal as refused, and not_received for an unknown key', async () => {
    const auth = authorization(TEST_CARDS.visa);
    const approved = await client.authorize(auth);
    expect(await client.inquireAuthorization(auth.idempotencyKey)).toEqual({ state: 'done', result: approved });
    const declinedRequest = authorization(TEST_CARDS.declinedInsufficientFunds);
    const declined = await client.authorize(declinedRequest);
    expect(await client.inquireAuthorization(declinedRequest.idempotencyKey)).toEqual({ state: 'done', result: declined });

    const authorizationRef = (approved as { acquirerRef: string }).acquirerRef;
    const captureKey = newKey('capture');
    const captured = await client.capture({ authorizationRef, amount: 1999, idempotencyKey: captureKey });
    expect(await client.inquireMovement(captureKey)).toEqual({ state: 'done', result: captured });
    const refundKey = newKey('refund');
    const refunded = await client.refund({ captureRef: captured.acquirerRef, amount: 500, idempotencyKey: refundKey });
    expect(await client.inquireMovement(refundKey)).toEqual({ state: 'done', result: refunded });
    const settleKey = newKey('settle');
    const settled = await client.settle({ captureRef: captured.acquirerRef, idempotencyKey: settleKey });
    expect(await client.inquireMovement(settleKey)).toEqual({ state: 'done', result: settled });
    const voidKey = newKey('void');
    await expectRejected(client.void({ authorizationRef, idempotencyKey: voidKey }), 'already_captured');
    expect(await client.inquireMovement(voidKey)).toMatchObject({ state: 'refused', code: 'already_captured' });
    expect(await client.inquireMovement(newKey('capture'))).toEqual({ state: 'not_received' });
    expect(await client.inquireAuthorization(newKey('authorize'))).toEqual({ state: 'not_received' });
  });

  it('an inquiry is never faulted, and an unreachable acquirer is AcquirerUnavailableError', async () => {
    faults.set({ errorRate: 1 });
    expect(await client.inquireMovement(newKey('capture'))).toEqual({ state: 'not_received' });
    await expectUnavailable(new HttpAcquirerClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 500 }).inquireMovement('pay_x:capture'));
  });

  it('a reversal voids an approved authorization (a void row in the ledger), and is idempotent', async () => {
    const auth = authorization(TEST_CARDS.visa);
    const approved = (await client.authorize(auth)) as { acquirerRef: string };
    const reversalKey = newKey('reverse');
    const reversed = await client.reverseAuthorization({ authorizationKey: auth.idempotencyKey, idempotencyKey: reversalKey });
    expect(reversed).toEqual({ outcome: 'voided', acquirerRef: expect.stringMatching(/^void_/) });
    expect(childrenOf(approved.acquirerRef, 'void')).toEqual([expect.objectContaining({ idempotency_key: reversalKey, amount: 1999 })]);
    expect(await client.reverseAuthorization({ authorizationKey: auth.idempotencyKey, idempotencyKey: reversalKey })).toEqual(reversed);
    expect(childrenOf(approved.acquirerRef, 'void')).toHaveLength(1);
    await expectRejected(client.capture({ authorizationRef: approved.acquirerRef, amount: 1999, idempotencyKey: newKey('capture') }), 'already_voided');
  });

  it('a reversal of a captured authorization is refused; of a declined one it reports the decline', async () => {
    const auth = authorization(TEST_CARDS.visa);
    const approved = (await client.authorize(auth)) as { acquirerRef: string };
    await client.capture({ authorizationRef: approved.acquirerRef, amount: 1999, idempotencyKey: newKey('capture') });
    await expectRejected(client.reverseAuthorization({ authorizationKey: auth.idempotencyKey, idempotencyKey: newKey('reverse') }), 'already_captured');
    const declined = authorization(TEST_CARDS.declinedGeneric);
    await client.authorize(declined);
    expect(await client.reverseAuthorization({ authorizationKey: declined.idempotencyKey, idempotencyKey: newKey('reverse') })).toEqual({ outcome: 'declined' });
  });

  it('a reversal of a key never received closes it: an authorization arriving late with it is refused and holds nothing', async () => {
    const late = authorization(TEST_CARDS.transientThenApproved);
    const before = ledger.entries().length;
    expect(await client.reverseAuthorization({ authorizationKey: late.idempotencyKey, idempotencyKey: newKey('reverse') })).toEqual({ outcome: 'closed' });
    await expectRejected(client.authorize(late), 'authorization_reversed');
    // Whatever the body: the key is closed.
    await expectRejected(client.authorize({ ...late, pan: TEST_CARDS.visa, amount: 5 }), 'authorization_reversed');
    expect(ledger.entries()).toHaveLength(before);
    expect(await client.inquireAuthorization(late.idempotencyKey)).toMatchObject({ state: 'refused', code: 'authorization_reversed' });
  });
});

describe('acquirer sandbox: sales (authorize and capture in one call)', () => {
  /** A sale request: the authorization key `<payment>:authorize` and the capture key `<payment>:capture`. */
  function sale(pan: string, overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
    const idempotencyKey = newKey('authorize');
    return authorization(pan, { idempotencyKey, captureIdempotencyKey: idempotencyKey.replace(/:authorize$/, ':capture'), ...overrides });
  }

  it('books the authorization and a capture of the whole amount under the capture key, and answers both', async () => {
    const request = sale(TEST_CARDS.visa, { amount: 4321 });
    const result = await client.authorize(request);
    expect(result).toEqual({
      outcome: 'approved',
      acquirerRef: expect.stringMatching(/^auth_/),
      authorizationCode: expect.any(String),
      capture: { outcome: 'captured', acquirerRef: expect.stringMatching(/^cap_/) },
    });
    const { acquirerRef, capture } = result as { acquirerRef: string; capture: { acquirerRef: string } };
    expect(rowsOf(acquirerRef).map((e) => [e.kind, e.status, e.amount, e.idempotency_key])).toEqual([
      ['authorization', 'approved', 4321, request.idempotencyKey],
      ['capture', 'succeeded', 4321, request.captureIdempotencyKey],
    ]);
    // Inquiries by either key find it; the capture appears on the day's report like any other.
    expect(await client.inquireAuthorization(request.idempotencyKey)).toEqual({ state: 'done', result });
    expect(await client.inquireMovement(request.captureIdempotencyKey!)).toEqual({ state: 'done', result: { acquirerRef: capture.acquirerRef } });
    const report = await client.settlementReport(new Date().toISOString().slice(0, 10));
    expect(report.filter((l) => l.idempotencyKey === request.captureIdempotencyKey)).toEqual([expect.objectContaining({ kind: 'capture', amount: 4321, ref: capture.acquirerRef })]);
  });

  it('a retried sale replays its answer and captures nothing twice; a capture sent later with the capture key gets the same capture', async () => {
    const request = sale(TEST_CARDS.mastercard);
    const first = (await client.authorize(request)) as { acquirerRef: string; capture: { acquirerRef: string } };
    expect(await client.authorize(request)).toEqual(first);
    const again = await client.capture({ authorizationRef: first.acquirerRef, amount: 1999, idempotencyKey: request.captureIdempotencyKey! });
    expect(again).toEqual({ acquirerRef: first.capture.acquirerRef });
    expect(childrenOf(first.acquirerRef, 'capture')).toHaveLength(1);
    // Another capture key cannot take the money again either.
    await expectRejected(client.capture({ authorizationRef: first.acquirerRef, amount: 1999, idempotencyKey: newKey('capture') }), 'already_captured');
  });

  it('a lost sale answer: the work is done once, the retry replays it', async () => {
    faults.set({ lostAnswerRate: 1, operations: ['authorize'] });
    const request = sale(TEST_CARDS.visa);
    await expectUnavailable(client.authorize(request));
    faults.reset();
    const replayed = (await client.authorize(request)) as { acquirerRef: string; capture?: unknown };
    expect(replayed.capture).toEqual({ outcome: 'captured', acquirerRef: expect.stringMatching(/^cap_/) });
    expect(rowsOf(replayed.acquirerRef).map((e) => e.kind)).toEqual(['authorization', 'capture']);
  });

  it('a card whose capture fails: authorized, not captured, the answer says why, the capture key stays free for nothing but the void', async () => {
    const request = sale(TEST_CARDS.captureFails);
    const result = await client.authorize(request);
    expect(result).toMatchObject({ outcome: 'approved', capture: { outcome: 'refused', code: 'capture_failed' } });
    const { acquirerRef } = result as { acquirerRef: string };
    expect(childrenOf(acquirerRef, 'capture')).toEqual([]);
    expect(await client.inquireMovement(request.captureIdempotencyKey!)).toEqual({ state: 'not_received' });
    await client.void({ authorizationRef: acquirerRef, idempotencyKey: newKey('void') });
    expect(rowsOf(acquirerRef).map((e) => e.kind)).toEqual(['authorization', 'void']);
  });

  it('a declined sale captures nothing', async () => {
    const request = sale(TEST_CARDS.declinedInsufficientFunds);
    expect(await client.authorize(request)).toMatchObject({ outcome: 'declined', declineCode: 'insufficient_funds' });
    expect(await client.inquireMovement(request.captureIdempotencyKey!)).toEqual({ state: 'not_received' });
    expect(ledger.entries().filter((e) => e.idempotency_key === request.captureIdempotencyKey)).toEqual([]);
  });

  it('a sale that arrived before its timeout reversal is not reversed: the reversal says captured, with the capture', async () => {
    const request = sale(TEST_CARDS.visa);
    const done = (await client.authorize(request)) as { acquirerRef: string; capture: { acquirerRef: string } };
    const reversal = await client.reverseAuthorization({ authorizationKey: request.idempotencyKey, idempotencyKey: newKey('reverse') });
    expect(reversal).toEqual({ outcome: 'captured', acquirerRef: done.capture.acquirerRef });
    expect(rowsOf(done.acquirerRef).map((e) => e.kind)).toEqual(['authorization', 'capture']);
  });

  it('a sale arriving after its key was reversed is refused and captures nothing', async () => {
    const request = sale(TEST_CARDS.visa);
    expect(await client.reverseAuthorization({ authorizationKey: request.idempotencyKey, idempotencyKey: newKey('reverse') })).toEqual({ outcome: 'closed' });
    await expectRejected(client.authorize(request), 'authorization_reversed');
    expect(ledger.entries().filter((e) => e.idempotency_key === request.captureIdempotencyKey)).toEqual([]);
  });
});

describe('HttpAcquirerClient: mapping of answers it cannot get from the sandbox', () => {
  let stub: http.Server;
  let stubUrl: string;
  let next: { status: number; body: string };
  const received: { body: string; headers: http.IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    stub = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ body, headers: req.headers });
        res.writeHead(next.status, { 'content-type': 'application/json' }).end(next.body);
      });
    });
    stub.listen(0, '127.0.0.1');
    await once(stub, 'listening');
    stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    stub.closeAllConnections();
    await new Promise((resolve) => stub.close(resolve));
  });

  const stubClient = () => new HttpAcquirerClient({ baseUrl: stubUrl, timeoutMs: 2_000 });

  it('sends the card as snake_case JSON with the Idempotency-Key header', async () => {
    next = { status: 201, body: JSON.stringify({ ref: 'auth_1', status: 'approved', authorization_code: 'ABC123' }) };
    const request = authorization(TEST_CARDS.visa);
    expect(await stubClient().authorize(request)).toEqual({ outcome: 'approved', acquirerRef: 'auth_1', authorizationCode: 'ABC123' });
    const last = received.at(-1)!;
    expect(JSON.parse(last.body)).toEqual(rawAuthorization(TEST_CARDS.visa));
    expect(last.headers['idempotency-key']).toBe(request.idempotencyKey);
  });

  it.each([500, 502, 503, 504, 429, 408])('maps %i to AcquirerUnavailableError', async (status) => {
    next = { status, body: JSON.stringify({ error: { code: 'busy', message: 'try later' } }) };
    const err = await expectUnavailable(stubClient().authorize(authorization(TEST_CARDS.visa)));
    expect(err.message).toContain(String(status));
    await expectUnavailable(stubClient().capture({ authorizationRef: 'auth_1', amount: 1, idempotencyKey: newKey('capture') }));
  });

  it('maps a 4xx without an error code to AcquirerRejectedError acquirer_rejected', async () => {
    next = { status: 403, body: 'forbidden' };
    await expectRejected(stubClient().settle({ captureRef: 'cap_1', idempotencyKey: newKey('settle') }), 'acquirer_rejected');
  });

  it('masks card numbers an acquirer echoes in its error messages', async () => {
    next = { status: 422, body: JSON.stringify({ error: { code: 'bad_card', message: `card ${TEST_CARDS.visa} is bad` } }) };
    const err = await expectRejected(stubClient().authorize(authorization(TEST_CARDS.visa)), 'bad_card');
    expect(err.message).toContain('[REDACTED]');
  });

  it('maps an unknown decline code to generic_decline', async () => {
    next = { status: 402, body: JSON.stringify({ ref: 'auth_2', status: 'declined', decline_code: 'pick_up_card', message: 'Declined' }) };
    expect(await stubClient().authorize(authorization(TEST_CARDS.visa))).toEqual({
      outcome: 'declined',
      acquirerRef: 'auth_2',
      declineCode: 'generic_decline',
      message: 'Declined',
    });
  });

  it('maps a 2xx with an unexpected body to AcquirerUnavailableError (a retry with the same key is safe)', async () => {
    next = { status: 200, body: '<html>proxy</html>' };
    await expectUnavailable(stubClient().refund({ captureRef: 'cap_1', amount: 1, idempotencyKey: newKey('refund') }));
  });

  it('maps a refused connection to AcquirerUnavailableError', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const err = await expectUnavailable(new HttpAcquirerClient({ baseUrl: `http://127.0.0.1:${port}` }).authorize(authorization(TEST_CARDS.visa)));
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
});

describe('acquirer sandbox: no card data at rest', () => {
  it('the ledger database files contain no card number and no CVC', () => {
    // Every test above has run against this ledger: the main file and its write-ahead log are scanned.
    const files = fs.readdirSync(dataDir).map((f) => path.join(dataDir, f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expectNoCardData(fs.readFileSync(file).toString('latin1'));
    expect(ledger.entries().length).toBeGreaterThan(20);
  });
});
