import { spawnSync } from 'node:child_process';
import { SignJWT } from 'jose';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { paymentIdFor } from '../../src/api/payments/payment-service';
import { ROOT } from '../helpers/processes';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { assertNoCardDataInFiles, assertNoCardDataInHistories } from '../helpers/leak-scan';
import { cardSecrets, TEST_CARDS } from '../helpers/test-cards';

/**
 * The merchant API end to end over HTTP (DESIGN.md §3–§4): the real Temporal dev server, the real
 * worker processes, the real acquirer sandbox process and the real API process, one stack for the
 * whole file. Money movements are read from the sandbox's ledger, the vault from its SQLite file,
 * and at the end every workflow history and every log of the run is scanned for card data.
 */

// The settlement cutoff is a time of day; the stack settles at its next occurrence. It is set this
// far ahead of the stack's start so every automatic payment of the table is captured before it
// (payments captured after it would wait a day), and the API tests below run while it approaches.
const CUTOFF_AHEAD_MS = 45_000;

const M_CARDS = 'm_cards';
const M_API = 'm_api';
const M_INTRUDER = 'm_intruder';
const AMOUNT = 2000;
/** A Luhn-invalid number used for the validation test: no response may echo it either. */
const BAD_LUHN = '4242424242424241';

const cvcFor = (number: string) => (number.startsWith('37') ? '7319' : '731');
function paymentBody(number: string, overrides: Record<string, unknown> = {}) {
  return { amount: AMOUNT, currency: 'USD', card: { number, exp_month: 12, exp_year: 2030, cvc: cvcFor(number) }, ...overrides };
}

const AUTH_CAPTURE = ['authorization:approved', 'capture:succeeded'];

interface Row {
  name: string;
  card: string;
  status: string;
  declineCode?: string;
  failureCode?: string;
  /** The ledger rows of the payment right after the POST (settlement and its compensation come later). */
  movements: string[];
}

/** The test-card table (README, "Test cards"): automatic capture, merchant m_cards. */
const TABLE: Row[] = [
  { name: 'visa', card: TEST_CARDS.visa, status: 'captured', movements: AUTH_CAPTURE },
  { name: 'mastercard', card: TEST_CARDS.mastercard, status: 'captured', movements: AUTH_CAPTURE },
  { name: 'amex', card: TEST_CARDS.amex, status: 'captured', movements: AUTH_CAPTURE },
  { name: 'discover', card: TEST_CARDS.discover, status: 'captured', movements: AUTH_CAPTURE },
  { name: 'generic decline', card: TEST_CARDS.declinedGeneric, status: 'declined', declineCode: 'generic_decline', movements: ['authorization:declined'] },
  { name: 'insufficient funds', card: TEST_CARDS.declinedInsufficientFunds, status: 'declined', declineCode: 'insufficient_funds', movements: ['authorization:declined'] },
  { name: 'incorrect cvc', card: TEST_CARDS.declinedIncorrectCvc, status: 'declined', declineCode: 'incorrect_cvc', movements: ['authorization:declined'] },
  { name: 'expired card', card: TEST_CARDS.declinedExpired, status: 'declined', declineCode: 'expired_card', movements: ['authorization:declined'] },
  { name: 'transient failures, then approved', card: TEST_CARDS.transientThenApproved, status: 'captured', movements: AUTH_CAPTURE },
  { name: 'capture fails (void)', card: TEST_CARDS.captureFails, status: 'failed', failureCode: 'capture_failed', movements: ['authorization:approved', 'void:succeeded'] },
  { name: 'settlement fails (captured first)', card: TEST_CARDS.settlementFails, status: 'captured', movements: AUTH_CAPTURE },
  { name: 'fraud blocklist', card: TEST_CARDS.fraudBlocklisted, status: 'declined', declineCode: 'fraud_declined', movements: [] },
  { name: 'fraud review (to approve)', card: TEST_CARDS.fraudReview, status: 'requires_review', movements: [] },
  { name: 'fraud review (to reject)', card: TEST_CARDS.fraudReview, status: 'requires_review', movements: [] },
];

/** Polls `probe` until `done` holds or the deadline passes; returns the last value so the assertion after it shows what was seen. */
async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    value = await probe();
  }
  return value;
}

describe('merchant payments API end to end (real dev server, workers, acquirer sandbox and API processes)', () => {
  let stack: GatewayStack;
  let cutoffMs: number;
  const runTag = Date.now().toString(36);
  /** Every response body of the file, scanned for card data at the end. */
  const responses: { what: string; text: string }[] = [];
  /** Payment id of each table row, by row name. */
  const tableIds = new Map<string, string>();
  const tableResults = new Map<string, { status: number; body: any }>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  let keySeq = 0;
  const newKey = (label: string) => `${label}-${runTag}-${++keySeq}`;

  async function call(method: string, urlPath: string, options: Parameters<GatewayStack['request']>[2] = {}) {
    const response = await stack.request(method, urlPath, options);
    responses.push({ what: `${method} ${urlPath} → ${response.status}`, text: typeof response.body === 'string' ? response.body : JSON.stringify(response.body) });
    return response;
  }
  /** `key` null sends no Idempotency-Key header. */
  const createPayment = (merchant: string, body: unknown, key: string | null = newKey('pay')) =>
    call('POST', '/v1/payments', { merchant, body, headers: key === null ? {} : { 'Idempotency-Key': key } });
  const getPayment = (merchant: string, id: string) => call('GET', `/v1/payments/${id}`, { merchant });

  const ledgerOf = async (paymentId: string) => (await stack.sandbox.ledger()).filter((e) => e.idempotency_key.startsWith(`${paymentId}:`));
  const movements = async (paymentId: string) => (await ledgerOf(paymentId)).map((e) => `${e.kind}:${e.status}`);
  /** The movements of a payment as of its authorization decision: settlement and its compensation happen at the cutoff. */
  const movementsBeforeCutoff = async (paymentId: string) => (await movements(paymentId)).filter((m) => !m.startsWith('settlement:') && !m.startsWith('refund:'));

  const openVault = () => new Database(path.join(stack.stack.dataDir, 'vault.db'), { readonly: true, fileMustExist: true });

  beforeAll(async () => {
    // "HH:MM:SS" in UTC, computed right before the stack starts (the workers read it once).
    cutoffMs = Math.ceil((Date.now() + CUTOFF_AHEAD_MS) / 1000) * 1000;
    const cutoff = new Date(cutoffMs).toISOString().slice(11, 19);
    stack = await startGatewayStack({ env: { SETTLEMENT_CUTOFF_UTC: cutoff } });
  }, 120_000);

  afterAll(async () => {
    if (!stack) return;
    try {
      // Leak check (DESIGN.md §3, invariants 1–2): every history of the run, raw and decoded, and every log of the run.
      const report = await assertNoCardDataInHistories(stack.stack.client, stack.stack.keys);
      expect(report.workflows).toBeGreaterThanOrEqual(TABLE.length);
      expect(report.decoded).toBeGreaterThan(report.workflows); // the encrypted payloads really were decoded and searched
      assertNoCardDataInFiles([stack.api.logFile, stack.sandbox.process.logFile, ...[...stack.stack.workers.values()].map((w) => w.logFile)]);
      // The audit trail of everything this file did (seals, tokenizations, purges, captures,
      // refunds, reviews, authentication failures) verifies with the operators' command.
      const verify = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'audit-verify.js')], {
        env: { ...process.env, DATA_DIR: stack.stack.dataDir, DATABASE_URL: '' },
        encoding: 'utf8',
      });
      expect(verify.stdout).toMatch(/^audit log OK: \d+ rows/);
      expect(verify.status).toBe(0);
    } finally {
      await stack.stop();
    }
  }, 120_000);

  describe('every row of the test-card table gives its documented outcome', () => {
    it('POST /v1/payments answers 201 with the decision for every test card', async () => {
      const results = await Promise.all(TABLE.map((row) => createPayment(M_CARDS, paymentBody(row.card), newKey(`table-${row.name.replace(/\W+/g, '_')}`))));
      TABLE.forEach((row, i) => {
        const result = results[i]!;
        tableResults.set(row.name, result);
        if (typeof result.body?.id === 'string') tableIds.set(row.name, result.body.id);
      });
      expect(results.map((r) => r.status)).toEqual(TABLE.map(() => 201));
      expect(new Set(tableIds.values()).size).toBe(TABLE.length);
      // Settlement is only observable if the automatic payments were captured before the cutoff.
      expect(cutoffMs - Date.now()).toBeGreaterThan(2_000);
    });

    it.each(TABLE)('$name: $status', async (row) => {
      const result = tableResults.get(row.name);
      expect(result).toBeDefined();
      const { body } = result!;
      const id = tableIds.get(row.name)!;
      expect(body).toMatchObject({
        id,
        object: 'payment',
        status: row.status,
        amount: AMOUNT,
        currency: 'USD',
        capture_method: 'automatic',
        card: { last4: row.card.slice(-4), exp_month: 12, exp_year: 2030 },
        decline_code: row.declineCode ?? null,
      });
      if (row.failureCode) expect(body.failure).toMatchObject({ code: row.failureCode });
      else expect(body.failure).toBeNull();
      if (row.status === 'captured') expect(body).toMatchObject({ amount_captured: AMOUNT, amount_capturable: 0 });
      // GET answers the same payment.
      const read = await getPayment(M_CARDS, id);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id, status: row.status });
      // The sandbox ledger, by idempotency key prefix `<paymentId>:`.
      expect(await movementsBeforeCutoff(id)).toEqual(row.movements);
    });

    it('the transiently failing card was authorized once although two attempts failed', async () => {
      const id = tableIds.get('transient failures, then approved')!;
      const authorizations = (await ledgerOf(id)).filter((e) => e.kind === 'authorization');
      expect(authorizations).toHaveLength(1);
      expect(authorizations[0]).toMatchObject({ status: 'approved', amount: AMOUNT, card_behaviour: 'transient_then_approve', idempotency_key: `${id}:authorize` });
      // The workflow history shows the authorize activity succeeded on its third attempt.
      const { history } = await stack.stack.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: id } });
      const events = history?.events ?? [];
      const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'authorize');
      expect(scheduled).toBeDefined();
      const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId ?? '') === String(scheduled!.eventId));
      expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(3);
    });

    it('the blocklisted card never reached the acquirer: no authorization in the ledger', async () => {
      const id = tableIds.get('fraud blocklist')!;
      expect(await ledgerOf(id)).toEqual([]);
      expect(tableResults.get('fraud blocklist')!.body.fraud).toMatchObject({ decision: 'decline' });
    });

    it('a review needs an operator; approved it proceeds to captured, rejected it is declined', async () => {
      const approveId = tableIds.get('fraud review (to approve)')!;
      const rejectId = tableIds.get('fraud review (to reject)')!;

      const anonymous = await call('POST', `/v1/payments/${approveId}/review`, { body: { decision: 'approve' } });
      expect(anonymous.status).toBe(403);
      expect(anonymous.body.error).toMatchObject({ type: 'authentication_error', code: 'insufficient_scope' });

      const approved = await call('POST', `/v1/payments/${approveId}/review`, { body: { decision: 'approve' }, operator: 'alice' });
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ id: approveId, fraud: { decision: 'review', reviewed_by: 'operator:alice' } });
      expect(approved.body.status).not.toBe('requires_review');
      const captured = await eventually(
        () => getPayment(M_CARDS, approveId),
        (r) => r.body?.status === 'captured',
      );
      expect(captured.body).toMatchObject({ status: 'captured', amount_captured: AMOUNT });
      expect(await movementsBeforeCutoff(approveId)).toEqual(AUTH_CAPTURE);

      const rejected = await call('POST', `/v1/payments/${rejectId}/review`, { body: { decision: 'reject' }, operator: 'alice' });
      expect(rejected.status).toBe(200);
      expect(rejected.body).toMatchObject({ id: rejectId, status: 'declined', decline_code: 'fraud_review_rejected', fraud: { reviewed_by: 'operator:alice' } });
      expect(await ledgerOf(rejectId)).toEqual([]);

      // A decided review cannot be decided again.
      const again = await call('POST', `/v1/payments/${rejectId}/review`, { body: { decision: 'approve' }, operator: 'alice' });
      expect(again.status).toBe(409);
      expect(again.body.error.type).toBe('conflict_error');
    });
  });

  describe('the vault', () => {
    it('the CVV is gone from the vault once authorization is over (approved, declined and failed alike)', () => {
      const db = openVault();
      try {
        const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
        expect(count('SELECT COUNT(*) AS n FROM cvv_records')).toBe(0);
        // Every card of the table was sealed (so there were CVVs to destroy) and every CVV was purged.
        expect(count(`SELECT COUNT(*) AS n FROM audit_log WHERE action = 'card.seal'`)).toBe(TABLE.length);
        expect(count(`SELECT COUNT(DISTINCT subject) AS n FROM audit_log WHERE action = 'cvv.purge'`)).toBe(TABLE.length);
        // Intakes keep only the pointer to their token: ciphertext and key are erased.
        expect(count('SELECT COUNT(*) AS n FROM card_intakes')).toBe(TABLE.length);
        expect(count('SELECT COUNT(*) AS n FROM card_intakes WHERE ciphertext IS NOT NULL OR wrapped_key IS NOT NULL OR token IS NULL')).toBe(0);
      } finally {
        db.close();
      }
    });
  });

  describe('authentication over HTTP (the real API)', () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const sign = (claims: Record<string, unknown>, mutate: (jwt: SignJWT) => SignJWT = (j) => j) =>
      mutate(
        new SignJWT({ scope: 'payments:read', ...claims })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('m_auth')
          .setIssuer('card-gateway-dev')
          .setAudience('card-gateway-api')
          .setIssuedAt()
          .setExpirationTime('10m'),
      ).sign(new TextEncoder().encode(stack.jwtSecret));
    const get = async (token?: string) => {
      const response = await fetch(`${stack.apiUrl}/v1/payments`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      return { status: response.status, body: (await response.json()) as { error?: { type: string; code: string } } };
    };

    const cases: [string, () => Promise<string | undefined>, string][] = [
      ['missing', async () => undefined, 'token_missing'],
      ['expired', () => sign({}, (j) => j.setExpirationTime(Math.floor(Date.now() / 1000) - 3600)), 'token_expired'],
      ['not yet valid', () => sign({}, (j) => j.setNotBefore(Math.floor(Date.now() / 1000) + 3600)), 'token_not_yet_valid'],
      ['wrong issuer', () => sign({}, (j) => j.setIssuer('someone-else')), 'token_invalid_issuer'],
      ['wrong audience', () => sign({}, (j) => j.setAudience('another-api')), 'token_invalid_audience'],
      ['tampered', async () => (await sign({})).replace(/\.[^.]+\./, `.${b64({ sub: 'm_other', scope: 'payments:read', iss: 'card-gateway-dev', aud: 'card-gateway-api', exp: 9999999999 })}.`), 'token_invalid_signature'],
      ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'm_auth', scope: 'payments:read', iss: 'card-gateway-dev', aud: 'card-gateway-api', exp: 9999999999 })}.`, 'token_algorithm_not_allowed'],
    ];
    it.each(cases)('a %s token is 401 with its code', async (_what, make, code) => {
      const { status, body } = await get(await make());
      expect(status).toBe(401);
      expect(body.error).toMatchObject({ type: 'authentication_error', code });
    });

    it('a token without the scope is 403; with it, 200', async () => {
      expect((await get(await sign({ scope: 'refunds:write' }))).body.error).toMatchObject({ code: 'insufficient_scope' });
      expect((await get(await sign({}))).status).toBe(200);
    });
  });

  describe('idempotency', () => {
    it('the same key with the same body is the same payment (200); with another body it is refused (409)', async () => {
      const key = newKey('idem');
      const first = await createPayment(M_API, paymentBody(TEST_CARDS.visa), key);
      expect(first.status).toBe(201);
      expect(first.body.status).toBe('captured');
      expect(first.body.id).toBe(paymentIdFor(M_API, key));

      const again = await createPayment(M_API, paymentBody(TEST_CARDS.visa), key);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ id: first.body.id, status: 'captured' });

      const other = await createPayment(M_API, paymentBody(TEST_CARDS.visa, { amount: AMOUNT + 1 }), key);
      expect(other.status).toBe(409);
      expect(other.body).toEqual({ error: { type: 'conflict_error', code: 'idempotency_key_reused', message: expect.any(String), param: 'Idempotency-Key' } });

      expect(await movementsBeforeCutoff(first.body.id)).toEqual(AUTH_CAPTURE); // one authorization, one capture
    });

    it('a payment without an Idempotency-Key is refused with 400', async () => {
      const response = await createPayment(M_API, paymentBody(TEST_CARDS.visa), null);
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: { type: 'invalid_request_error', code: 'parameter_missing', message: expect.any(String), param: 'Idempotency-Key' } });
    });
  });

  describe('validation: 400 with the error shape and the offending parameter; nothing is created', () => {
    const cases: { name: string; body: unknown; type: string; code: string; param?: string }[] = [
      { name: 'a card number failing the Luhn check', body: paymentBody(BAD_LUHN), type: 'card_error', code: 'incorrect_number', param: 'card.number' },
      { name: 'a negative amount', body: paymentBody(TEST_CARDS.visa, { amount: -5 }), type: 'invalid_request_error', code: 'parameter_invalid', param: 'amount' },
      { name: 'a fractional amount', body: paymentBody(TEST_CARDS.visa, { amount: 10.5 }), type: 'invalid_request_error', code: 'parameter_invalid', param: 'amount' },
      { name: 'an unknown currency', body: paymentBody(TEST_CARDS.visa, { currency: 'XXX' }), type: 'invalid_request_error', code: 'parameter_invalid', param: 'currency' },
      { name: 'an unknown field', body: paymentBody(TEST_CARDS.visa, { tip: 100 }), type: 'invalid_request_error', code: 'parameter_unknown', param: 'tip' },
      {
        name: 'an unknown card field',
        body: { ...paymentBody(TEST_CARDS.visa), card: { ...paymentBody(TEST_CARDS.visa).card, pin: '1234' } },
        type: 'invalid_request_error',
        code: 'parameter_unknown',
        param: 'card.pin',
      },
      { name: 'a missing amount', body: { currency: 'USD', card: paymentBody(TEST_CARDS.visa).card }, type: 'invalid_request_error', code: 'parameter_missing', param: 'amount' },
      { name: 'a CVC of the wrong length', body: paymentBody(TEST_CARDS.visa, { card: { number: TEST_CARDS.visa, exp_month: 12, exp_year: 2030, cvc: '7319' } }), type: 'card_error', code: 'invalid_cvc', param: 'card.cvc' },
      // JSON.parse makes `__proto__` an own key (an object literal would set the prototype instead).
      { name: 'a metadata key __proto__ (zod would drop it silently)', body: paymentBody(TEST_CARDS.visa, { metadata: JSON.parse('{"__proto__":"order-7"}') }), type: 'invalid_request_error', code: 'parameter_invalid', param: 'metadata.__proto__' },
      { name: 'a body that is not JSON', body: '{"amount": 2000, "card": {"number": "4242424242424242"', type: 'invalid_request_error', code: 'invalid_json' },
    ];

    it.each(cases)('$name → $code', async ({ body, type, code, param }) => {
      const key = newKey('invalid');
      const response = await createPayment(M_API, body, key);
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: { type, code, message: expect.any(String), ...(param ? { param } : {}) } });
      const nothing = await getPayment(M_API, paymentIdFor(M_API, key));
      expect(nothing.status).toBe(404);
    });

    it('a request without a merchant is refused with 401', async () => {
      const response = await call('POST', '/v1/payments', { merchant: '', body: paymentBody(TEST_CARDS.visa), headers: { 'Idempotency-Key': newKey('anon') } });
      expect(response.status).toBe(401);
      expect(response.body.error).toMatchObject({ type: 'authentication_error', code: 'token_missing' });
    });
  });

  describe('capture, cancel and refund', () => {
    it("a declined payment's capture is refused with 409 and moves nothing", async () => {
      const declined = await createPayment(M_API, paymentBody(TEST_CARDS.declinedGeneric));
      expect(declined.status).toBe(201);
      expect(declined.body).toMatchObject({ status: 'declined', decline_code: 'generic_decline' });
      const before = await ledgerOf(declined.body.id);

      const capture = await call('POST', `/v1/payments/${declined.body.id}/capture`, { merchant: M_API, body: {} });
      expect(capture.status).toBe(409);
      expect(capture.body.error).toMatchObject({ type: 'conflict_error', code: expect.stringMatching(/^(payment_not_capturable|payment_closed)$/) });
      expect(await ledgerOf(declined.body.id)).toEqual(before);
      expect(before.map((e) => `${e.kind}:${e.status}`)).toEqual(['authorization:declined']);
    });

    it('manual capture: requires_capture, over-capture refused, a partial capture captures that amount', async () => {
      const created = await createPayment(M_API, paymentBody(TEST_CARDS.mastercard, { amount: 5000, capture_method: 'manual' }));
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      expect(created.body).toMatchObject({ status: 'requires_capture', capture_method: 'manual', amount_capturable: 5000, amount_captured: 0 });
      expect(created.body.capture_before).toEqual(expect.any(String));
      expect(await movements(id)).toEqual(['authorization:approved']);

      const over = await call('POST', `/v1/payments/${id}/capture`, { merchant: M_API, body: { amount: 5001 } });
      expect(over.status).toBe(409);
      expect(over.body.error).toMatchObject({ type: 'conflict_error', code: 'amount_exceeds_capturable' });
      expect(await movements(id)).toEqual(['authorization:approved']);

      const partial = await call('POST', `/v1/payments/${id}/capture`, { merchant: M_API, body: { amount: 3500 } });
      expect(partial.status).toBe(200);
      expect(partial.body).toMatchObject({ id, status: 'captured', amount_captured: 3500, amount_capturable: 0 });
      const ledger = await ledgerOf(id);
      expect(ledger.map((e) => `${e.kind}:${e.status}`)).toEqual(AUTH_CAPTURE);
      expect(ledger.find((e) => e.kind === 'capture')!.amount).toBe(3500);

      const twice = await call('POST', `/v1/payments/${id}/capture`, { merchant: M_API, body: {} });
      expect(twice.status).toBe(409);
      expect(twice.body.error.code).toBe('payment_not_capturable');
    });

    it('cancel: a manual payment is canceled and its authorization voided', async () => {
      const created = await createPayment(M_API, paymentBody(TEST_CARDS.amex, { capture_method: 'manual' }));
      expect(created.body.status).toBe('requires_capture');
      const id = created.body.id as string;

      const canceled = await call('POST', `/v1/payments/${id}/cancel`, { merchant: M_API, body: { reason: 'customer changed their mind' } });
      expect(canceled.status).toBe(200);
      expect(canceled.body).toMatchObject({ id, status: 'canceled', amount_capturable: 0, amount_captured: 0 });
      expect(await movements(id)).toEqual(['authorization:approved', 'void:succeeded']);

      const capture = await call('POST', `/v1/payments/${id}/capture`, { merchant: M_API, body: {} });
      expect(capture.status).toBe(409);
      expect(await movements(id)).toEqual(['authorization:approved', 'void:succeeded']);
    });

    describe('refunds', () => {
      let id: string;
      const refundKey = newKey('refund');

      it('a partial refund answers 201 and the payment is partially_refunded', async () => {
        const created = await createPayment(M_API, paymentBody(TEST_CARDS.discover));
        expect(created.body.status).toBe('captured');
        id = created.body.id;

        const refund = await call('POST', `/v1/payments/${id}/refunds`, { merchant: M_API, body: { amount: 500, reason: 'one item returned' }, headers: { 'Idempotency-Key': refundKey } });
        expect(refund.status).toBe(201);
        expect(refund.body).toMatchObject({ object: 'refund', payment: id, amount: 500, currency: 'USD', status: 'succeeded', failure_reason: null });
        expect(refund.body.id).toMatch(/^re_/);

        const payment = await getPayment(M_API, id);
        expect(payment.body).toMatchObject({ status: 'partially_refunded', amount_refunded: 500, refunds: [{ id: refund.body.id, amount: 500, status: 'succeeded' }] });
        const refunds = (await ledgerOf(id)).filter((e) => e.kind === 'refund');
        expect(refunds).toHaveLength(1);
        expect(refunds[0]!.amount).toBe(500);
      });

      it('the same refund Idempotency-Key twice is one refund', async () => {
        const again = await call('POST', `/v1/payments/${id}/refunds`, { merchant: M_API, body: { amount: 500, reason: 'one item returned' }, headers: { 'Idempotency-Key': refundKey } });
        expect(again.status).toBe(201);
        expect(again.body).toMatchObject({ payment: id, amount: 500, status: 'succeeded' });
        expect((await ledgerOf(id)).filter((e) => e.kind === 'refund')).toHaveLength(1);
        expect((await getPayment(M_API, id)).body).toMatchObject({ amount_refunded: 500, refunds: [expect.objectContaining({ amount: 500 })] });
      });

      it('a refund beyond what remains is refused with 409 and moves nothing', async () => {
        const before = await ledgerOf(id);
        const over = await call('POST', `/v1/payments/${id}/refunds`, { merchant: M_API, body: { amount: AMOUNT - 500 + 1 }, headers: { 'Idempotency-Key': newKey('refund-over') } });
        expect(over.status).toBe(409);
        expect(over.body.error).toMatchObject({ type: 'conflict_error', code: 'amount_exceeds_refundable' });
        expect(await ledgerOf(id)).toEqual(before);
        expect((await getPayment(M_API, id)).body).toMatchObject({ status: 'partially_refunded', amount_refunded: 500 });
      });

      it("another merchant can neither read nor act on the payment: 404, nothing moved", async () => {
        const manual = await createPayment(M_API, paymentBody(TEST_CARDS.visa, { capture_method: 'manual' }));
        expect(manual.body.status).toBe('requires_capture');
        const manualId = manual.body.id as string;
        const before = { manual: await ledgerOf(manualId), refunded: await ledgerOf(id) };

        const attempts = [
          await call('GET', `/v1/payments/${manualId}`, { merchant: M_INTRUDER }),
          await call('POST', `/v1/payments/${manualId}/capture`, { merchant: M_INTRUDER, body: {} }),
          await call('POST', `/v1/payments/${manualId}/cancel`, { merchant: M_INTRUDER, body: {} }),
          await call('GET', `/v1/payments/${id}`, { merchant: M_INTRUDER }),
          await call('POST', `/v1/payments/${id}/refunds`, { merchant: M_INTRUDER, body: { amount: 100 }, headers: { 'Idempotency-Key': newKey('steal') } }),
        ];
        for (const attempt of attempts) {
          expect(attempt.status).toBe(404);
          expect(attempt.body.error).toMatchObject({ type: 'not_found_error', code: 'payment_not_found' });
        }
        // Exactly as a payment that does not exist.
        const missing = await getPayment(M_INTRUDER, paymentIdFor(M_INTRUDER, 'never-used'));
        expect(missing.status).toBe(404);
        expect(Object.keys(missing.body.error).sort()).toEqual(Object.keys(attempts[0]!.body.error).sort());

        expect(await ledgerOf(manualId)).toEqual(before.manual);
        expect(await ledgerOf(id)).toEqual(before.refunded);
        expect((await getPayment(M_API, manualId)).body).toMatchObject({ status: 'requires_capture', amount_capturable: AMOUNT });
        expect((await getPayment(M_API, id)).body).toMatchObject({ amount_refunded: 500 });
      });
    });
  });

  describe('listing', () => {
    it('GET /v1/payments?status=declined lists only that merchant\'s declined payments', async () => {
      const declinedIds = [...TABLE.filter((r) => r.status === 'declined').map((r) => tableIds.get(r.name)!), tableIds.get('fraud review (to reject)')!].sort();
      const listed = await eventually(
        () => call('GET', '/v1/payments?status=declined&limit=100', { merchant: M_CARDS }),
        (r) => JSON.stringify((r.body?.data ?? []).map((p: { id: string }) => p.id).sort()) === JSON.stringify(declinedIds),
      );
      expect(listed.status).toBe(200);
      expect(listed.body).toMatchObject({ object: 'list', has_more: false, next_cursor: null });
      expect(listed.body.data.map((p: { id: string }) => p.id).sort()).toEqual(declinedIds);
      for (const payment of listed.body.data) expect(payment).toMatchObject({ object: 'payment', status: 'declined', currency: 'USD', amount: AMOUNT });

      // The other merchant's declined payment is in its own list only.
      const own = await eventually(
        () => call('GET', '/v1/payments?status=declined', { merchant: M_API }),
        (r) => r.body?.data?.length === 1,
      );
      expect(own.body.data).toHaveLength(1);
      expect(declinedIds).not.toContain(own.body.data[0].id);
      const none = await call('GET', '/v1/payments?status=declined', { merchant: M_INTRUDER });
      expect(none.body.data).toEqual([]);
    });

    it('pagination with limit=2 and next_cursor returns distinct pages covering every payment', async () => {
      const all = [...tableIds.values()].sort();
      const walk = async () => {
        const pages: string[][] = [];
        let cursor: string | null = null;
        do {
          const query: string = `/v1/payments?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
          const page = await call('GET', query, { merchant: M_CARDS });
          if (page.status !== 200) return { pages, error: page.body };
          pages.push(page.body.data.map((p: { id: string }) => p.id));
          expect(page.body.has_more).toBe(page.body.next_cursor !== null);
          cursor = page.body.next_cursor;
        } while (cursor && pages.length < 50);
        return { pages };
      };
      const result = await eventually(walk, (r) => JSON.stringify(r.pages.flat().sort()) === JSON.stringify(all));
      expect(result.error).toBeUndefined();
      expect(result.pages.every((p) => p.length <= 2)).toBe(true);
      // The last page says has_more: false; no empty page follows a full one.
      expect(result.pages.every((p) => p.length > 0)).toBe(true);
      expect(result.pages.length).toBe(Math.ceil(all.length / 2));
      expect(new Set(result.pages.flat()).size).toBe(result.pages.flat().length); // no payment on two pages
      expect(result.pages.flat().sort()).toEqual(all);
    });

    it('an invalid list query is refused with 400', async () => {
      const response = await call('GET', '/v1/payments?status=lost', { merchant: M_CARDS });
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ type: 'invalid_request_error', param: 'status' });
    });
  });

  describe('at the settlement cutoff', () => {
    it('a captured payment settles; the card whose settlement fails is reversed (capture refunded)', async () => {
      const visaId = tableIds.get('visa')!;
      const failingId = tableIds.get('settlement fails (captured first)')!;
      const timeoutMs = Math.max(0, cutoffMs - Date.now()) + 30_000;

      const reversed = await eventually(() => getPayment(M_CARDS, failingId), (r) => r.body?.status === 'reversed', timeoutMs, 500);
      expect(reversed.body).toMatchObject({
        status: 'reversed',
        amount_captured: AMOUNT,
        amount_refunded: AMOUNT,
        failure: { code: 'settlement_failed' },
        settled_at: null,
      });
      expect(await movements(failingId)).toEqual(['authorization:approved', 'capture:succeeded', 'refund:succeeded']);
      expect(Date.now()).toBeGreaterThanOrEqual(cutoffMs);

      const settled = await eventually(() => getPayment(M_CARDS, visaId), (r) => r.body?.status === 'settled', 30_000, 500);
      expect(settled.body).toMatchObject({ status: 'settled', amount_captured: AMOUNT, amount_refunded: 0, failure: null });
      expect(Date.parse(settled.body.settled_at)).toBeGreaterThanOrEqual(cutoffMs);
      expect(await movements(visaId)).toEqual(['authorization:approved', 'capture:succeeded', 'settlement:succeeded']);
    }, 120_000);
  });

  describe('card data stays out', () => {
    it('still no CVV in the vault after every flow of the file', () => {
      const db = openVault();
      try {
        expect((db.prepare('SELECT COUNT(*) AS n FROM cvv_records').get() as { n: number }).n).toBe(0);
        expect((db.prepare('SELECT COUNT(*) AS n FROM card_intakes WHERE ciphertext IS NOT NULL').get() as { n: number }).n).toBe(0);
      } finally {
        db.close();
      }
    });

    it('no response body contains a test card number or CVC', () => {
      expect(responses.length).toBeGreaterThan(40);
      const secrets = [...cardSecrets(), BAD_LUHN];
      const leaks = responses.flatMap(({ what, text }) => secrets.filter((s) => text.includes(s)).map((s) => `${what}: …${s.replace(/"/g, '').slice(-4)}`));
      expect(leaks).toEqual([]);
    });

    it('the leak scan finds a planted card number (the scan itself works)', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leak-scan-'));
      try {
        const clean = path.join(dir, 'clean.log');
        const dirty = path.join(dir, 'dirty.log');
        fs.writeFileSync(clean, '{"msg":"card ending 4242"}\n');
        fs.writeFileSync(dirty, `{"msg":"oops ${TEST_CARDS.mastercard}"}\n`);
        expect(assertNoCardDataInFiles([clean])).toEqual({ files: 1, bytes: expect.any(Number) });
        expect(() => assertNoCardDataInFiles([clean, dirty])).toThrow(/dirty\.log: a test card secret ending 4444/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
