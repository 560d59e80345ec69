import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DAY_MS,
  FEATURE_INDEX,
  FEATURE_NAMES,
  RECENT_TX,
  RETENTION_DAYS,
  computeFeatures,
  emptyState,
  isExpired,
  recordFraudReport,
  recordPayment,
} from '../../src/fraud/features';
import { MalformedInputError, ReplayFeatures, readTransactions } from '../../src/fraud/replay';

const T0 = Date.parse('2018-07-02T12:00:00Z'); // a Monday, noon
const f = (v: Float64Array, name: keyof typeof FEATURE_INDEX) => v[FEATURE_INDEX[name]]!;

describe('fraud features (src/fraud/features.ts)', () => {
  it('lists each feature once and fills every one', () => {
    expect(new Set(FEATURE_NAMES).size).toBe(FEATURE_NAMES.length);
    const v = computeFeatures({ at: T0, amountMinor: 1234 }, emptyState(), emptyState());
    expect(v).toHaveLength(FEATURE_NAMES.length);
    expect([...v].every(Number.isFinite)).toBe(true);
    expect(f(v, 'amount')).toBe(12.34);
    expect(f(v, 'hour_of_day')).toBe(12);
    expect(f(v, 'weekday')).toBe(1);
    expect(f(v, 'is_weekend')).toBe(0);
    expect(f(v, 'card_tx_30d')).toBe(0);
    expect(f(v, 'card_amount_ratio_30d')).toBe(-1);
  });

  it('counts the card and the merchant over sliding windows, the payment itself not included', () => {
    const card = emptyState();
    const merchant = emptyState();
    // One payment a day for 10 days, then 3 in the last half hour.
    for (let d = 10; d >= 1; d--) {
      recordPayment(card, { at: T0 - d * DAY_MS, amountMinor: 1000 }, true);
      recordPayment(merchant, { at: T0 - d * DAY_MS, amountMinor: 1000 }, false);
    }
    for (const m of [30, 20, 10]) recordPayment(card, { at: T0 - m * 60_000, amountMinor: 1000 }, true);
    const v = computeFeatures({ at: T0, amountMinor: 5000 }, card, merchant);
    expect(f(v, 'card_tx_1h')).toBe(3);
    expect(f(v, 'card_tx_24h')).toBe(3); // the one exactly a day ago is out: the window is open at its start
    expect(f(v, 'card_tx_30d')).toBe(13);
    expect(f(v, 'card_seconds_since_previous')).toBe(600);
    expect(f(v, 'card_avg_amount_30d')).toBe(10);
    expect(f(v, 'card_amount_ratio_30d')).toBe(5);
    expect(f(v, 'merchant_tx_30d')).toBe(10);
    // The 7-day window starts at noon 7 days ago: the payment of that day (at noon) counts half.
    expect(f(v, 'merchant_tx_7d')).toBe(6.5);
  });

  it("compares the amount with the card's baseline before the last 7 days, which a recent compromise has not inflated", () => {
    const card = emptyState();
    for (let d = 30; d >= 8; d--) recordPayment(card, { at: T0 - d * DAY_MS, amountMinor: 2000 }, true);
    // A compromise: three payments at 5x in the last days.
    for (const d of [3, 2, 1]) recordPayment(card, { at: T0 - d * DAY_MS, amountMinor: 10_000 }, true);
    const v = computeFeatures({ at: T0, amountMinor: 10_000 }, card, emptyState());
    expect(f(v, 'card_avg_amount_baseline')).toBe(20);
    expect(f(v, 'card_amount_ratio_baseline')).toBe(5);
    expect(f(v, 'card_high_amounts_14d')).toBe(3);
    expect(f(v, 'card_max_ratio_14d')).toBe(5);
    expect(f(v, 'card_amount_ratio_30d')).toBeLessThan(5);
  });

  it('a fraud report counts from the moment it is made: merchant risk and reports rise', () => {
    const merchant = emptyState();
    for (let d = 14; d >= 8; d--) recordPayment(merchant, { at: T0 - d * DAY_MS, amountMinor: 1000 }, false);
    const before = computeFeatures({ at: T0, amountMinor: 1000 }, emptyState(), merchant);
    expect(f(before, 'merchant_risk_7d')).toBe(0);
    expect(f(before, 'merchant_frauds_reported_7d')).toBe(0);
    for (const d of [10, 9]) recordFraudReport(merchant, T0 - d * DAY_MS, T0 - 1000);
    const after = computeFeatures({ at: T0, amountMinor: 1000 }, emptyState(), merchant);
    expect(f(after, 'merchant_frauds_reported_7d')).toBe(2);
    expect(f(after, 'merchant_risk_7d')).toBeGreaterThan(0.25);
    expect(f(after, 'merchant_days_since_known_fraud')).toBe(9);
  });

  it("follows a compromised terminal's run of known frauds: when it began, its share, and whether it has ended", () => {
    const merchant = emptyState();
    // One genuine payment a day from 30 to 21 days ago, then every payment fraud from 20 to 9 days ago
    // (labels known), then genuine payments 8 days ago and since (the run is over).
    for (let d = 30; d >= 1; d--) recordPayment(merchant, { at: T0 - d * DAY_MS, amountMinor: 1000 }, false);
    for (let d = 20; d >= 9; d--) recordFraudReport(merchant, T0 - d * DAY_MS, T0 - d * DAY_MS + 7 * DAY_MS);
    const during = computeFeatures({ at: T0 - 2 * DAY_MS + 1000, amountMinor: 1000 }, emptyState(), merchant);
    const v = computeFeatures({ at: T0, amountMinor: 1000 }, emptyState(), merchant);
    expect(f(v, 'merchant_fraud_run_days')).toBe(20);
    expect(f(v, 'merchant_fraud_run_share')).toBe(1);
    expect(f(v, 'merchant_days_since_known_fraud')).toBe(9);
    // 8 days ago is fully known (genuine); 7 days ago is not known yet.
    expect(f(v, 'merchant_known_genuine_after_fraud')).toBe(1);
    expect(f(v, 'merchant_days_since_known_genuine')).toBe(8);
    expect(f(during, 'merchant_known_genuine_after_fraud')).toBe(0);
    expect(f(during, 'merchant_days_since_known_genuine')).toBe(19); // 21 days before T0: the last genuine day before the run
    const none = computeFeatures({ at: T0, amountMinor: 1000 }, emptyState(), emptyState());
    expect(f(none, 'merchant_fraud_run_days')).toBe(RETENTION_DAYS + 1);
    expect(f(none, 'merchant_days_since_known_genuine')).toBe(RETENTION_DAYS + 1);
  });

  it("compares the amount with the median of the card's last payments and counts its high-ratio payments", () => {
    const card = emptyState();
    for (let d = 30; d >= 8; d--) recordPayment(card, { at: T0 - d * DAY_MS, amountMinor: 2000 }, true);
    for (const h of [30, 20]) recordPayment(card, { at: T0 - h * 3_600_000, amountMinor: 10_000 }, true);
    recordPayment(card, { at: T0 - 3_600_000, amountMinor: 10_000 }, true);
    const v = computeFeatures({ at: T0, amountMinor: 10_000 }, card, emptyState());
    expect(f(v, 'card_amount_ratio_median')).toBe(5);
    expect(f(v, 'card_high_amounts_1d')).toBe(2);
    // The day buckets: 6 whole days (8..13 days ago), half of the day 14 days ago (the window starts at its noon), and 3.
    expect(f(v, 'card_tx_14d')).toBe(9.5);
    // Exact times: 9 payments in the last 14 days (6 daily, 3 high), 3 of them above 3x the baseline.
    expect(f(v, 'card_high_share_14d')).toBeCloseTo(3 / 9, 12);
    expect(f(v, 'card_amount_zscore_baseline')).toBe(80); // (100 - 20) / max(std 0, 1)
  });

  it('keeps bounded memory: at most the retention in day buckets and the last payments of a card', () => {
    const card = emptyState();
    for (let i = 0; i < 5000; i++) recordPayment(card, { at: T0 + i * 3 * 3_600_000, amountMinor: 500 }, true);
    expect(card.day.length).toBeLessThanOrEqual(RETENTION_DAYS);
    expect(card.recent).toHaveLength(RECENT_TX);
    expect(card.recentAmount).toHaveLength(RECENT_TX);
    expect(JSON.stringify(card).length).toBeLessThan(4000);
    expect(isExpired(card, T0 + 5000 * 3 * 3_600_000 + (RETENTION_DAYS + 31) * DAY_MS)).toBe(true);
    expect(isExpired(card, T0 + 5000 * 3 * 3_600_000)).toBe(false);
  });
});

describe('replay (src/fraud/replay.ts)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fraud-replay-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const read = async (file: string) => {
    const rows = [];
    for await (const row of readTransactions(file)) rows.push(row);
    return rows;
  };
  const HEADER = 'TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n';

  it('a label counts exactly 7 days after its transaction, not a millisecond before', () => {
    const replay = new ReplayFeatures();
    const t = T0;
    replay.features({ at: t, customer: 'c1', terminal: 't1', amountMinor: 1000, fraud: 1 });
    const before = replay.features({ at: t + 7 * DAY_MS - 1, customer: 'c2', terminal: 't1', amountMinor: 1000, fraud: 0 });
    const at = replay.features({ at: t + 7 * DAY_MS, customer: 'c3', terminal: 't1', amountMinor: 1000, fraud: 0 });
    expect(f(before, 'merchant_frauds_reported_7d')).toBe(0);
    expect(f(at, 'merchant_frauds_reported_7d')).toBe(1);
  });

  it('reads the shared format (unknown labels allowed) and rejects a malformed line by its number', async () => {
    const ok = await read(write('ok.csv', `${HEADER}0,2018-04-01T00:00:31Z,596,3156,57.16,0\n1,2018-04-01 00:02:10,4961,3412,81.51,\n`));
    expect(ok.map((r) => [r.line, r.amountMinor, r.fraud])).toEqual([
      [2, 5716, 0],
      [3, 8151, undefined],
    ]);
    const bad = async (body: string) => read(write('bad.csv', `${HEADER}0,2018-04-01T00:00:31Z,596,3156,57.16,0\n${body}\n`)).catch((e: unknown) => e);
    for (const [body, what] of [
      ['1,2018-04-01T00:02:10Z,4961,3412,81.51', /bad\.csv:3: expected 6 fields, found 5/],
      ['1,yesterday,4961,3412,81.51,0', /:3: TX_DATETIME/],
      ['1,2018-04-01T00:02:10Z,4961,3412,81.511,0', /:3: TX_AMOUNT/],
      ['1,2018-04-01T00:02:10Z,4961,3412,81.51,2', /:3: TX_FRAUD/],
      ['1,2018-03-01T00:02:10Z,4961,3412,81.51,0', /:3: rows are not in time order/],
    ] as const) {
      const err = await bad(body);
      expect(err).toBeInstanceOf(MalformedInputError);
      expect((err as MalformedInputError).line).toBe(3);
      expect((err as Error).message).toMatch(what);
    }
    const header = await read(write('header.csv', 'id,time\n')).catch((e: unknown) => e);
    expect((header as MalformedInputError).line).toBe(1);
  });
});
