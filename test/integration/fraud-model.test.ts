import { cardKeyOf } from '../../src/fraud/card-key';
import { FraudChecker } from '../../src/fraud/fraud-checker';
import { FraudStore } from '../../src/fraud/fraud-store';
import { DAY_MS, FEATURE_INDEX, LABEL_DELAY_MS } from '../../src/fraud/features';
import { FraudModel, defaultModelFile } from '../../src/fraud/model';
import { ReplayFeatures, readTransactions, type TransactionRow } from '../../src/fraud/replay';
import { fraudRulesConfig, type FraudCheckInput } from '../../src/fraud/rules';
import { SHARED_DATA } from '../helpers/fraud-data';
import { postgresBackend, sqliteBackend, type Backend, type TestDatabase } from '../helpers/vault-backends';

/**
 * The live fraud check (rules, then the model over the feature store in the database) against the
 * replay (`npm run fraud:score`, the features in memory): the same rows, with labels reported 7 days
 * after their payments, give the same scores on SQLite and on PostgreSQL. And fraud reports raise a
 * merchant's risk.
 */

const backends: Backend[] = [sqliteBackend(), postgresBackend()];
afterAll(async () => {
  await Promise.all(backends.map((b) => b.stop()));
});

const model = FraudModel.load(defaultModelFile());
// Rules that never decide here (no sandbox cards, no velocity or amount limits in reach): the score is under test.
const rules = fraudRulesConfig({ sandboxRules: false, fingerprintVelocityLimit: 1_000_000, merchantVelocityLimit: 1_000_000 });

/** Every payment of 12 cards over 45 days: their history, labels and compromises included. */
const rows: TransactionRow[] = [];
beforeAll(async () => {
  const cards = new Set(['2', '17', '96', '134', '218', '301', '402', '555', '777', '1024', '2048', '4095']);
  const start = Date.parse('2018-05-01T00:00:00Z');
  for await (const row of readTransactions(SHARED_DATA)) {
    if (row.at >= start + 45 * DAY_MS) break;
    if (row.at >= start && cards.has(row.customer)) rows.push(row);
  }
  // A few frauds among them, so that labels matter.
  expect(rows.filter((r) => r.fraud === 1).length).toBeGreaterThan(0);
}, 60_000);

function inputOf(row: TransactionRow): FraudCheckInput {
  return {
    paymentId: `pay_${row.id}`,
    merchantId: `m_t${row.terminal}`,
    amount: row.amountMinor,
    currency: 'USD',
    card: { fingerprint: `fp_c${row.customer}`, bin: '400000', last4: '0000', brand: 'visa' },
    cardToken: `tok_c${row.customer}`,
  };
}

describe.each(backends.map((b) => [b.name, b] as const))('fraud model in the live check on %s', (_name, backend) => {
  let database: TestDatabase;
  let store: FraudStore;
  let clock = 0;
  const checker = () => new FraudChecker(store, { rules, model, now: () => clock });

  beforeEach(async () => {
    database = await backend.create();
    store = new FraudStore(database.db);
  });
  afterEach(async () => {
    await database.close();
  });

  it('scores every payment as the replay does, labels reported 7 days late', async () => {
    const fraud = checker();
    const replay = new ReplayFeatures();
    const pending: TransactionRow[] = [];
    let mismatches = 0;
    let scored = 0;
    for (const row of rows) {
      // Reports due by this payment's time, in order, at the time they become known.
      while (pending.length > 0 && pending[0]!.at + LABEL_DELAY_MS <= row.at) {
        const due = pending.shift()!;
        clock = due.at + LABEL_DELAY_MS;
        expect((await fraud.report({ paymentId: `pay_${due.id}`, reportedBy: 'operator:test' })).status).toBe('recorded');
      }
      clock = row.at;
      const live = await fraud.check(inputOf(row));
      const expected = model.score(replay.features(row));
      if (live.score !== expected) mismatches++;
      scored++;
      expect(live.modelVersion).toBe(model.version);
      if (row.fraud === 1) pending.push(row);
    }
    expect({ scored, mismatches }).toEqual({ scored: rows.length, mismatches: 0 });
  }, 120_000);

  it('a retried check returns its first answer, score included, without counting the payment twice', async () => {
    const fraud = checker();
    clock = Date.parse('2018-06-01T10:00:00Z');
    const input = inputOf({ line: 2, id: '1', at: clock, customer: '9', terminal: '9', amountMinor: 4200, fraud: 0 });
    const first = await fraud.check(input);
    clock += 60_000;
    expect(await fraud.check(input)).toEqual(first);
    expect(first.score).toBeGreaterThan(0);
    expect((await store.features.findScore(input.paymentId))?.features[FEATURE_INDEX.card_tx_30d]).toBe(0);
    const states = await store.features.loadStates(['merchant:m_t9']);
    expect(states.get('merchant:m_t9')!.n).toEqual([1]);
  });

  it('concurrent checks of one card at one merchant each see the ones before: no feature update is lost', async () => {
    // PostgreSQL reads the states in the same round trip that takes the locks (migration 012): the
    // reads must come after the locks, or a waiting check would read the states as they were before
    // the check it waited for, and overwrite its update.
    const fraud = checker();
    clock = Date.parse('2018-06-01T10:00:00Z');
    const inputs = Array.from({ length: 16 }, (_, i) => inputOf({ line: i + 2, id: `c${i}`, at: clock, customer: '31', terminal: '31', amountMinor: 1_000 + i, fraud: 0 }));
    const decisions = await Promise.all(inputs.map((input) => fraud.check(input)));
    const seen = await Promise.all(inputs.map(async (input) => (await store.features.findScore(input.paymentId))!.features[FEATURE_INDEX.card_tx_30d]));
    // Each check saw every earlier one exactly once: 0, 1, …, 15 in some order.
    expect([...seen].sort((a, b) => a! - b!)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    const states = await store.features.loadStates(['card:' + cardKeyOf('tok_c31'), 'merchant:m_t31']);
    expect(states.get('merchant:m_t31')!.n).toEqual([16]);
    expect(states.get('card:' + cardKeyOf('tok_c31'))!.n).toEqual([16]);
    expect(decisions.every((d) => d.score !== undefined)).toBe(true);
  });

  it("in sandbox mode the acquirer's test cards keep their documented outcomes: scored, not decided by the model", async () => {
    const sandbox = new FraudChecker(store, { rules: fraudRulesConfig({ sandboxRules: true, fingerprintVelocityLimit: 1_000_000 }), model, now: () => clock });
    const start = Date.parse('2018-06-01T09:00:00Z');
    const run = async (card: { bin: string; last4: string }, tag: string) => {
      const decisions = [];
      for (let i = 0; i < 20; i++) {
        clock = start + i * 60_000;
        const input = { ...inputOf({ line: 2, id: `${tag}_${i}`, at: clock, customer: tag, terminal: tag, amountMinor: [2000, 1999, 5000, 20_000, 1000][i % 5]!, fraud: 0 }) };
        decisions.push(await sandbox.check({ ...input, card: { ...input.card, ...card } }));
      }
      return decisions;
    };
    const testCard = await run({ bin: '424242', last4: '4242' }, 'sandbox');
    expect(testCard.every((d) => d.decision === 'approve' && typeof d.score === 'number')).toBe(true);
    // The same history on a card that is not a test card: the model decides (the 10x amounts stand out).
    const other = await run({ bin: '400001', last4: '1234' }, 'other');
    expect(other.some((d) => d.reasons.some((r) => r.rule === 'model_score'))).toBe(true);
    expect(other.map((d) => d.score)).toEqual(testCard.map((d) => d.score));
  });

  it("reporting a merchant's payments raises its risk and the score of its next payments; reporting twice changes nothing", async () => {
    const fraud = checker();
    const merchant = 'm_compromised';
    const at = Date.parse('2018-06-01T09:00:00Z');
    const pay = async (i: number, minutes: number) => {
      clock = at + minutes * 60_000;
      return fraud.check({ ...inputOf({ line: 2, id: `${merchant}_${i}`, at: clock, customer: `c${i}`, terminal: 'x', amountMinor: 3500, fraud: 0 }), merchantId: merchant });
    };
    const paid = [];
    for (let i = 0; i < 12; i++) paid.push(await pay(i, i));
    const before = await pay(100, 30);

    clock = at + 40 * 60_000;
    for (let i = 0; i < 8; i++) {
      expect((await fraud.report({ paymentId: `pay_${merchant}_${i}`, reason: 'chargeback', reportedBy: 'operator:test' })).status).toBe('recorded');
    }
    const again = await fraud.report({ paymentId: `pay_${merchant}_0`, reason: 'another claim', reportedBy: 'operator:other' });
    expect(again).toEqual({ status: 'already_reported', report: expect.objectContaining({ reason: 'chargeback', reportedBy: 'operator:test' }) });
    expect((await fraud.report({ paymentId: 'pay_never_checked', reportedBy: 'operator:test' })).status).toBe('recorded_unscored');

    const after = await pay(101, 50);
    const features = (await store.features.findScore(`pay_${merchant}_101`))!.features;
    expect(features[FEATURE_INDEX.merchant_frauds_reported_7d]).toBe(8);
    expect((await store.features.findScore(`pay_${merchant}_100`))!.features[FEATURE_INDEX.merchant_frauds_reported_7d]).toBe(0);
    expect(after.score!).toBeGreaterThan(before.score!);
    expect(paid).toHaveLength(12);
  });
});
