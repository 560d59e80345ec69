import { FraudChecker } from '../../src/fraud/fraud-checker';
import { FraudStore } from '../../src/fraud/fraud-store';
import { fraudRulesConfig, type FraudCheckInput, type FraudRulesConfig } from '../../src/fraud/rules';
import { TEST_CARDS, cardSecrets } from '../helpers/test-cards';
import { postgresBackend, sqliteBackend, type Backend, type TestDatabase } from '../helpers/vault-backends';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const backends: Backend[] = [sqliteBackend(), postgresBackend()];
afterAll(async () => {
  await Promise.all(backends.map((b) => b.stop()));
});

/** The vault's public metadata of a test card: what the fraud worker receives instead of the PAN. */
function cardOf(pan: string, fingerprint: string) {
  return { fingerprint, bin: pan.slice(0, 6), last4: pan.slice(-4), brand: 'visa' };
}

describe.each(backends.map((b) => [b.name, b] as const))('fraud checker on %s', (_name, backend) => {
  let database: TestDatabase;
  let store: FraudStore;
  let clock: number;
  let sequence = 0;
  const now = () => clock;
  const checker = (config: Partial<FraudRulesConfig> = {}) => new FraudChecker(store, fraudRulesConfig(config), now);

  function payment(overrides: Partial<FraudCheckInput> = {}): FraudCheckInput {
    sequence += 1;
    return { paymentId: `pay_${sequence}`, merchantId: 'm_1', amount: 1999, currency: 'USD', card: cardOf(TEST_CARDS.visa, 'fp_visa'), ...overrides };
  }

  beforeEach(async () => {
    database = await backend.create();
    store = new FraudStore(database.db);
    clock = Date.UTC(2030, 0, 1, 12, 0, 0);
  });
  afterEach(async () => {
    await database.close();
  });

  it('approves an ordinary payment and records the check', async () => {
    const input = payment();
    expect(await checker().check(input)).toEqual({ decision: 'approve', reasons: [] });
    expect(await store.findCheck(input.paymentId)).toEqual({
      paymentId: input.paymentId,
      fingerprint: 'fp_visa',
      merchantId: 'm_1',
      amount: 1999,
      currency: 'USD',
      decision: 'approve',
      reasons: [],
      at: clock,
    });
  });

  it('counts payments per card over the last hour: review after 5, decline after 10, forgotten after the hour', async () => {
    const fraud = checker();
    const decisions: string[] = [];
    for (let i = 0; i < 11; i++) {
      decisions.push((await fraud.check(payment())).decision);
      clock += MINUTE;
    }
    expect(decisions).toEqual([...Array(5).fill('approve'), ...Array(5).fill('review'), 'decline']);

    // Another card at the same time is not affected.
    expect((await fraud.check(payment({ card: cardOf(TEST_CARDS.mastercard, 'fp_mc') }))).decision).toBe('approve');

    // The first payment was at 12:00, the eleventh at 12:10. At 13:00 exactly, the first one has left the window.
    clock = Date.UTC(2030, 0, 1, 13, 0, 0);
    expect(await store.countRecentByFingerprint('fp_visa', clock - HOUR)).toBe(10);
    const [later] = (await fraud.check(payment())).reasons;
    expect(later).toEqual({ rule: 'velocity_fingerprint', detail: expect.stringContaining('11 payments with card fp_visa (…4242) within 1 hour') });

    // Past 13:10 every one of them has.
    clock = Date.UTC(2030, 0, 1, 13, 10, 1);
    expect(await store.countRecentByFingerprint('fp_visa', clock - HOUR)).toBe(1);
    expect((await fraud.check(payment())).decision).toBe('approve');
  });

  it('counts payments per merchant over the last minute', async () => {
    const fraud = checker({ merchantVelocityLimit: 3 });
    const decisions: string[] = [];
    for (let i = 0; i < 4; i++) {
      decisions.push((await fraud.check(payment({ card: cardOf(TEST_CARDS.visa, `fp_${i}`) }))).decision);
      clock += 1_000;
    }
    expect(decisions).toEqual(['approve', 'approve', 'approve', 'review']);
    expect((await fraud.check(payment({ merchantId: 'm_2', card: cardOf(TEST_CARDS.visa, 'fp_other') }))).decision).toBe('approve');

    clock += MINUTE;
    expect((await fraud.check(payment({ card: cardOf(TEST_CARDS.visa, 'fp_late') }))).decision).toBe('approve');
  });

  it('declines a blocklisted fingerprint until it is removed from the blocklist', async () => {
    const fraud = checker();
    expect(await store.addToBlocklist({ fingerprint: 'fp_stolen', reason: 'reported stolen', at: clock })).toBe(true);
    expect(await store.addToBlocklist({ fingerprint: 'fp_stolen', reason: 'again', at: clock })).toBe(false);
    expect(await store.blocklistEntry('fp_stolen')).toEqual({ fingerprint: 'fp_stolen', reason: 'reported stolen', at: clock });
    expect(await store.isBlocklisted('fp_stolen')).toBe(true);

    const blocked = await fraud.check(payment({ card: cardOf(TEST_CARDS.visa, 'fp_stolen') }));
    expect(blocked).toEqual({ decision: 'decline', reasons: [{ rule: 'blocklist', detail: 'card fp_stolen (…4242) is on the blocklist' }] });

    expect(await store.removeFromBlocklist('fp_stolen')).toBe(true);
    expect(await store.removeFromBlocklist('fp_stolen')).toBe(false);
    expect(await store.isBlocklisted('fp_stolen')).toBe(false);
    expect((await fraud.check(payment({ card: cardOf(TEST_CARDS.visa, 'fp_stolen') }))).decision).toBe('approve');
  });

  it('applies the sandbox test cards through the store', async () => {
    const fraud = checker();
    expect((await fraud.check(payment({ card: cardOf(TEST_CARDS.fraudBlocklisted, 'fp_b') }))).decision).toBe('decline');
    expect((await fraud.check(payment({ card: cardOf(TEST_CARDS.fraudReview, 'fp_r') }))).decision).toBe('review');
    const production = checker({ sandboxRules: false });
    expect((await production.check(payment({ card: cardOf(TEST_CARDS.fraudBlocklisted, 'fp_b') }))).decision).toBe('approve');
  });

  it('is idempotent per payment: a retry neither counts twice nor changes its answer', async () => {
    const fraud = checker();
    const first = payment({ amount: 300_000 });
    const decision = await fraud.check(first);
    expect(decision.decision).toBe('review');

    // The retry comes later, after the card was blocklisted: it still gets the answer the payment got.
    clock += MINUTE;
    await store.addToBlocklist({ fingerprint: 'fp_visa', reason: 'test', at: clock });
    expect(await fraud.check(first)).toEqual(decision);
    expect(await fraud.check(first)).toEqual(decision);
    expect((await store.findCheck(first.paymentId))!.at).toBe(clock - MINUTE);
    expect(await store.countRecentByFingerprint('fp_visa', clock - HOUR)).toBe(1);
    expect(await store.countRecentByMerchant('m_1', clock - HOUR)).toBe(1);

    // Recording the same payment again changes nothing.
    expect(await store.recordCheck({ ...(await store.findCheck(first.paymentId))!, decision: 'approve', at: clock })).toBe(false);
    expect((await store.findCheck(first.paymentId))!.decision).toBe('review');
  });

  it('counts concurrent payments with one card exactly, and concurrent retries once', async () => {
    const fraud = checker();
    const inputs = Array.from({ length: 12 }, () => payment());
    const decisions = await Promise.all(inputs.map((i) => fraud.check(i)));
    const tally = (d: string) => decisions.filter((x) => x.decision === d).length;
    expect([tally('approve'), tally('review'), tally('decline')]).toEqual([5, 5, 2]);

    const retried = payment({ card: cardOf(TEST_CARDS.visa, 'fp_retry') });
    const answers = await Promise.all([fraud.check(retried), fraud.check(retried), fraud.check(retried)]);
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(await store.countRecentByFingerprint('fp_retry', clock - HOUR)).toBe(1);
  });

  it('stores no card data', async () => {
    const fraud = checker();
    for (const pan of Object.values(TEST_CARDS)) await fraud.check(payment({ amount: 2_000_000, card: cardOf(pan, `fp_${pan.slice(-8)}`) }));
    const raw = (await database.rawContent()).toString('latin1');
    for (const secret of cardSecrets()) expect(raw).not.toContain(secret);
  });
});
