import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AcquirerUnavailableError } from '../../src/acquirer/acquirer-client';
import { HttpAcquirerClient } from '../../src/acquirer/http-acquirer-client';
import { startAcquirerSandbox, type AcquirerSandbox } from '../helpers/acquirer-sandbox';
import { TEST_CARDS, TEST_CVCS, cardSecrets } from '../helpers/test-cards';

const card = (pan: string) => ({ pan, expMonth: 12, expYear: 2030, cvc: pan.startsWith('37') ? TEST_CVCS[1] : TEST_CVCS[0] });

/** Fails naming the secret (not printing the whole log) if a test card number or CVC is in the file. */
function expectNoCardData(file: string): void {
  const text = fs.readFileSync(file, 'utf8');
  expect(text.length).toBeGreaterThan(0);
  const found = cardSecrets().filter((secret) => text.includes(secret));
  expect(found).toEqual([]);
}

describe('the acquirer sandbox as a real process', () => {
  let sandbox: AcquirerSandbox;
  let client: HttpAcquirerClient;

  beforeAll(async () => {
    sandbox = await startAcquirerSandbox();
    client = new HttpAcquirerClient({ baseUrl: sandbox.url, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it('answers /healthz', async () => {
    const response = await fetch(`${sandbox.url}/healthz`);
    expect(response.status).toBe(200);
  });

  it('authorizes and captures a payment: exactly one authorization and one capture in its ledger, retries included', async () => {
    const authorize = { ...card(TEST_CARDS.visa), amount: 2500, currency: 'USD', merchantId: 'm_process', idempotencyKey: 'pay_proc_1:authorize' };
    const authorized = await client.authorize(authorize);
    expect(authorized).toMatchObject({ outcome: 'approved', acquirerRef: expect.stringMatching(/^auth_/) });
    const authorizationRef = (authorized as { acquirerRef: string }).acquirerRef;
    const capture = { authorizationRef, amount: 2500, idempotencyKey: 'pay_proc_1:capture' };
    const captured = await client.capture(capture);
    expect(captured.acquirerRef).toMatch(/^cap_/);
    // Retried activities: same keys, same answers, no new money movement.
    expect(await client.authorize(authorize)).toEqual(authorized);
    expect(await client.capture(capture)).toEqual(captured);

    const rows = (await sandbox.ledger()).filter((e) => e.ref === authorizationRef || e.parent_ref === authorizationRef);
    expect(rows).toEqual([
      expect.objectContaining({ kind: 'authorization', status: 'approved', amount: 2500, card_last4: '4242', idempotency_key: authorize.idempotencyKey }),
      expect.objectContaining({ kind: 'capture', status: 'succeeded', amount: 2500, parent_ref: authorizationRef, idempotency_key: capture.idempotencyKey }),
    ]);
  });

  it('runs every test card through it, so the log scan below has had every card number to leak', async () => {
    let n = 0;
    for (const pan of Object.values(TEST_CARDS)) {
      n += 1;
      const request = { ...card(pan), amount: 100, currency: 'EUR', merchantId: 'm_process', idempotencyKey: `pay_cards_${n}:authorize` };
      // 0119 answers 503 twice before it approves.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.authorize(request);
          break;
        } catch (err) {
          if (!(err instanceof AcquirerUnavailableError) || attempt >= 3) throw err;
        }
      }
    }
    const authorizations = (await sandbox.ledger()).filter((e) => e.idempotency_key.startsWith('pay_cards_'));
    expect(authorizations).toHaveLength(Object.keys(TEST_CARDS).length);
    expect(authorizations.filter((e) => e.status === 'declined')).toHaveLength(4);
  });

  it('fault knobs set through the helper: errorRate 1 makes the client throw AcquirerUnavailableError and moves nothing', async () => {
    const before = await sandbox.ledger();
    await sandbox.setFaults({ errorRate: 1 });
    await expect(
      client.authorize({ ...card(TEST_CARDS.mastercard), amount: 100, currency: 'USD', merchantId: 'm_process', idempotencyKey: 'pay_fault:authorize' }),
    ).rejects.toBeInstanceOf(AcquirerUnavailableError);
    expect(await sandbox.ledger()).toEqual(before);
    await sandbox.setFaults({});
  });

  it('stops gracefully on SIGTERM, even with a 60-second hang in flight, and its log holds no card number or CVC', async () => {
    await sandbox.setFaults({ hangRate: 1 });
    const hanging = client
      .authorize({ ...card(TEST_CARDS.discover), amount: 100, currency: 'USD', merchantId: 'm_process', idempotencyKey: 'pay_hang:authorize' })
      .catch((err: unknown) => err);
    // Let the request reach the sandbox and start hanging.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    expect(await sandbox.process.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(8_000); // far from the 60 s hang, and below the 10 s backstop
    expect(await hanging).toBeInstanceOf(AcquirerUnavailableError);
    await sandbox.process.waitForOutput(/"msg":"acquirer sandbox stopped"/, 1_000);
    expectNoCardData(sandbox.process.logFile);
  });
});

describe('the acquirer sandbox process: configuration and persistence', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'acquirer-sandbox-persist-'));
  });
  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps its ledger and idempotency records in DATA_DIR across a restart', async () => {
    const request = { ...card(TEST_CARDS.amex), amount: 700, currency: 'GBP', merchantId: 'm_restart', idempotencyKey: 'pay_restart:authorize' };
    const first = await startAcquirerSandbox({ DATA_DIR: dataDir });
    let answer;
    try {
      answer = await new HttpAcquirerClient({ baseUrl: first.url }).authorize(request);
    } finally {
      await first.stop();
    }
    expect(fs.existsSync(path.join(dataDir, 'acquirer-sandbox.db'))).toBe(true);
    expectNoCardData(first.process.logFile);

    const second = await startAcquirerSandbox({ DATA_DIR: dataDir });
    try {
      expect(await new HttpAcquirerClient({ baseUrl: second.url }).authorize(request)).toEqual(answer);
      expect((await second.ledger()).filter((e) => e.idempotency_key === request.idempotencyKey)).toHaveLength(1);
    } finally {
      await second.stop();
    }
    expect(fs.existsSync(dataDir)).toBe(true); // a DATA_DIR the helper did not create is left alone
  });

  it('takes fault knobs from ACQUIRER_SANDBOX_FAULTS at start', async () => {
    const sandbox = await startAcquirerSandbox({ ACQUIRER_SANDBOX_FAULTS: '{"errorRate":1,"latencyMs":10}' });
    try {
      const faults = await (await fetch(`${sandbox.url}/_sandbox/faults`)).json();
      expect(faults).toMatchObject({ latencyMs: 10, errorRate: 1, hangRate: 0, hangMs: 60_000, lostAnswerRate: 0, lateAnswerRate: 0, injected: { error: 0 } });
      const response = await fetch(`${sandbox.url}/v1/captures/cap_x/settle`, { method: 'POST', headers: { 'Idempotency-Key': 'k' } });
      expect(response.status).toBe(503);
      expect(await sandbox.ledger()).toEqual([]);
    } finally {
      await sandbox.stop();
    }
  });

  it('refuses to start with invalid fault knobs, saying which variable is wrong', async () => {
    await expect(startAcquirerSandbox({ ACQUIRER_SANDBOX_FAULTS: '{"errorRate":3}' })).rejects.toThrow(/ACQUIRER_SANDBOX_FAULTS.*errorRate/);
  });
});
