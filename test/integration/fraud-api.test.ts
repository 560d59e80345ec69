import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTransactions, type TransactionRow } from '../../src/fraud/replay';
import { ROOT } from '../helpers/processes';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { TEST_CARDS, simulatedCard } from '../helpers/test-cards';
import { SHARED_DATA } from '../helpers/fraud-data';

/**
 * The fraud model in the live workflow, over HTTP: a few hundred rows of the shared data sent as
 * payments (amounts in minor units, one card per customer, one merchant per terminal) get the scores
 * `npm run fraud:score` gives the same rows; fraud reports raise a merchant's risk; the review queue
 * lists what waits for an operator. The real stack: dev server, workers, sandbox, API.
 */
const ROWS = 300;

let gateway: GatewayStack;
const rows: TransactionRow[] = [];
const customers = new Map<string, number>();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fraud-api-'));

beforeAll(async () => {
  for await (const row of readTransactions(SHARED_DATA)) {
    if (rows.length === ROWS) break;
    rows.push(row);
    if (!customers.has(row.customer)) customers.set(row.customer, customers.size);
  }
  gateway = await startGatewayStack();
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const cardBody = (number: string) => ({ number, exp_month: 12, exp_year: 2030, cvc: '731' });

async function pay(merchant: string, key: string, amount: number, number: string) {
  const res = await gateway.request('POST', '/v1/payments', {
    merchant,
    headers: { 'Idempotency-Key': key },
    body: { amount, currency: 'USD', card: cardBody(number) },
  });
  expect([200, 201]).toContain(res.status);
  return res.body;
}

describe('fraud model through the HTTP API', () => {
  it('scores the shared rows sent as payments exactly as fraud:score scores the same rows', async () => {
    const paid: { row: TransactionRow; score: number; scoredAt: string; version: string }[] = [];
    // One at a time, in the data's order: each payment's features include the ones before it.
    for (const row of rows) {
      const payment = await pay(`m_t${row.terminal}`, `row-${row.id}`, row.amountMinor, simulatedCard(customers.get(row.customer)!));
      expect(payment.fraud).toEqual(expect.objectContaining({ score: expect.any(Number), model_version: expect.any(String), scored_at: expect.any(String) }));
      expect(payment.fraud.reason_codes).toEqual(expect.any(Array));
      // Merchants see codes, not the words behind the model's reasons (a card's history across merchants).
      expect(JSON.stringify(payment)).not.toMatch(/this card's/);
      paid.push({ row, score: payment.fraud.score, scoredAt: payment.fraud.scored_at, version: payment.fraud.model_version });
    }

    // The same rows at the times the worker scored them, labels unknown, through the replay CLI.
    const input = path.join(dir, 'rows.csv');
    const output = path.join(dir, 'scores.csv');
    fs.writeFileSync(
      input,
      'TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n' +
        paid.map(({ row, scoredAt }) => `${row.id},${scoredAt},${row.customer},${row.terminal},${(row.amountMinor / 100).toFixed(2)},`).join('\n') +
        '\n',
    );
    execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'fraud-score.js'), '--input', input, '--output', output, '--quiet'], { cwd: ROOT });
    const replayed = new Map(
      fs
        .readFileSync(output, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(',') as [string, string]),
    );
    const mismatches = paid.filter(({ row, score }) => Number(replayed.get(row.id)) !== score);
    expect({ rows: paid.length, replayed: replayed.size, mismatches: mismatches.length }).toEqual({ rows: ROWS, replayed: ROWS, mismatches: 0 });
    expect(new Set(paid.map((p) => p.version)).size).toBe(1);
  }, 600_000);

  it("reports of a merchant's payments raise the risk of its next payment; a report is idempotent and ops-only", async () => {
    const merchant = 'm_fraud_reported';
    // Ten payments with ten cards, then a probe; the same later, after the ten are reported.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await pay(merchant, `r-${i}`, 3500, simulatedCard(900 + i))).id);
    const before = await pay(merchant, 'probe-before', 3500, simulatedCard(950));

    const first = await gateway.request('POST', '/v1/fraud/reports', { operator: 'ann', body: { payment: ids[0], reason: 'chargeback' } });
    expect(first).toEqual({ status: 201, body: expect.objectContaining({ object: 'fraud_report', payment: ids[0], scored: true, reason: 'chargeback', reported_by: 'operator:ann' }) });
    const again = await gateway.request('POST', '/v1/fraud/reports', { operator: 'bob', body: { payment: ids[0], reason: 'claim' } });
    expect(again).toEqual({ status: 200, body: { ...first.body } });
    for (const id of ids.slice(1)) expect((await gateway.request('POST', '/v1/fraud/reports', { operator: 'ann', body: { payment: id } })).status).toBe(201);

    const after = await pay(merchant, 'probe-after', 3500, simulatedCard(951));
    expect(after.fraud.score).toBeGreaterThan(before.fraud.score);
    expect(after.fraud.reason_codes.some((c: string) => c.startsWith('merchant_'))).toBe(true);

    // Unknown payment, merchant token, bad body.
    expect(await gateway.request('POST', '/v1/fraud/reports', { operator: 'ann', body: { payment: 'pay_000000000000000000000000' } })).toEqual({
      status: 404,
      body: { error: expect.objectContaining({ type: 'not_found_error', code: 'payment_not_found' }) },
    });
    expect((await gateway.request('POST', '/v1/fraud/reports', { merchant, body: { payment: ids[1] } })).status).toBe(403);
    const invalid = await gateway.request('POST', '/v1/fraud/reports', { operator: 'ann', body: { payment: 'nope', extra: 1 } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.type).toBe('invalid_request_error');
  }, 300_000);

  it('lists payments waiting for review oldest first, with score, reasons in words and deadline, page by page', async () => {
    const waiting: string[] = [];
    for (let i = 0; i < 3; i++) {
      const payment = await pay(`m_review_${i}`, `review-${i}`, 2500, TEST_CARDS.fraudReview);
      expect(payment.status).toBe('requires_review');
      waiting.push(payment.id);
    }
    let listed: string[] = [];
    // Visibility is eventually consistent: wait until the three show.
    for (let attempt = 0; attempt < 50; attempt++) {
      const all = await gateway.request('GET', '/v1/reviews?limit=100', { operator: 'ann' });
      expect(all.status).toBe(200);
      listed = all.body.data.map((r: { payment: string }) => r.payment).filter((id: string) => waiting.includes(id));
      if (listed.length === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(listed).toEqual(waiting);

    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { data: { payment: string; fraud: { score: number; explanations: unknown[]; reasons: { rule: string }[] }; deadline: string }[]; next_cursor: string | null; has_more: boolean } } =
        await gateway.request('GET', `/v1/reviews?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { operator: 'ann' });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(1);
      for (const item of page.body.data) {
        pages.push(item.payment);
        expect(item.fraud.score).toEqual(expect.any(Number));
        expect(Date.parse(item.deadline)).toBeGreaterThan(Date.now());
        // Ours are the sandbox's review card; the model sent some of the shared rows above to review too.
        expect(item.fraud.reasons.map((r) => r.rule)).toContain(waiting.includes(item.payment) ? 'sandbox_review' : 'model_score');
      }
      cursor = page.body.next_cursor;
      expect(page.body.has_more).toBe(cursor !== null);
    } while (cursor);
    expect(pages.filter((id) => waiting.includes(id))).toEqual(waiting);

    expect((await gateway.request('GET', '/v1/reviews', { merchant: 'm_review_0' })).status).toBe(403);
    expect((await gateway.request('GET', '/v1/reviews?cursor=bogus', { operator: 'ann' })).body.error.code).toBe('invalid_cursor');
  }, 300_000);

  // Last: its card-velocity review must not meet the review-queue test above.
  it('one card at two merchants: two fingerprints, and the second merchant reads no figure of the first one\'s payments', async () => {
    const card = simulatedCard(950);
    const atA = [];
    for (let i = 0; i < 7; i++) atA.push(await pay('m_fp_a', `fp-a-${i}`, 1200 + i, card));
    const atB = await pay('m_fp_b', 'fp-b-0', 1300, card);

    expect(new Set(atA.map((p) => p.card.fingerprint)).size).toBe(1);
    expect(atB.card.fingerprint).toMatch(/^fp_/);
    expect(atB.card.fingerprint).not.toBe(atA[0].card.fingerprint);

    // The fraud engine still knows it is one card (its own key, inside the fraud worker): the
    // card-wide velocity rule fires at B, by code only.
    expect(atB.fraud.reason_codes).toContain('velocity_fingerprint');
    const seen = JSON.stringify(atB.fraud);
    expect(seen).not.toMatch(/\b[0-9]+ payments\b/);
    expect(seen).not.toContain(atA[0].card.fingerprint);
    expect(seen).not.toContain('m_fp_a');
    const read = await gateway.request('GET', `/v1/payments/${atB.id}`, { merchant: 'm_fp_b' });
    expect(JSON.stringify(read.body.fraud)).not.toMatch(/\b[0-9]+ payments\b/);
    expect(read.body.fraud.reasons.find((r: { rule: string }) => r.rule === 'velocity_fingerprint').detail).toBe('this card was used unusually often in a short time');
  }, 300_000);

  it('GET /v1/payments/:id/card_data: operations read from the audit chain when the card was sealed and how its CVV was destroyed', async () => {
    const approved = await pay('m_card_data', 'cd-approved', 2500, TEST_CARDS.visa);
    expect(approved.status).toBe('captured');
    const attestation = await gateway.request('GET', `/v1/payments/${approved.id}/card_data`, { operator: 'ann' });
    expect(attestation.status).toBe(200);
    expect(attestation.body).toMatchObject({
      object: 'card_data_attestation',
      payment: approved.id,
      card: { intake: expect.stringMatching(/^int_/), sealed_at: expect.any(String), sealed_by: 'merchant:m_card_data', tokenized_at: expect.any(String) },
      cvv: { ref: expect.stringMatching(/^cvv_/), status: 'destroyed', destroyed_how: 'after_authorization' },
      authorizations: [{ purpose: 'authorization' }],
      chain: { verified: true, problem: null },
    });
    expect(Date.parse(attestation.body.cvv.destroyed_at)).toBeGreaterThanOrEqual(Date.parse(attestation.body.authorizations[0].at));

    // The sandbox's review card, rejected by an operator: its CVV was held for the review and destroyed at its end.
    const held = await pay('m_card_data', 'cd-review', 2600, TEST_CARDS.fraudReview);
    expect(held.status).toBe('requires_review');
    const rejected = await gateway.request('POST', `/v1/payments/${held.id}/review`, { operator: 'ann', body: { decision: 'reject' } });
    expect([200, 202]).toContain(rejected.status);
    let review;
    for (let i = 0; i < 50; i++) {
      review = await gateway.request('GET', `/v1/payments/${held.id}/card_data`, { operator: 'ann' });
      if (review.body.cvv?.status === 'destroyed') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(review!.body).toMatchObject({ cvv: { status: 'destroyed', destroyed_how: 'at_review_end', retained_until: expect.any(String) }, authorizations: [], chain: { verified: true } });

    expect((await gateway.request('GET', `/v1/payments/${approved.id}/card_data`, { merchant: 'm_card_data' })).status).toBe(403);
    const unknown = await gateway.request('GET', `/v1/payments/pay_${'0'.repeat(24)}/card_data`, { operator: 'ann' });
    expect({ status: unknown.status, code: unknown.body.error.code }).toEqual({ status: 404, code: 'payment_not_found' });
  }, 120_000);
});
