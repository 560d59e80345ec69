/**
 * The fraud model's behaviour features: the ONE implementation, used by the live fraud worker (through
 * the feature store, ./feature-store.ts), by the replay CLI (`npm run fraud:score`) and by the export
 * the trainer learns from (`npm run fraud:train`). Pure functions over small per-entity states, so the
 * three cannot drift apart.
 *
 * An entity is a card (the fraud worker's internal card key, never shown to a merchant) or a merchant.
 * Its state is bounded: one bucket per UTC day for the last `RETENTION_DAYS` days (counts, amount sum
 * and sum of squares, fraud labels known by transaction day and by report day) and, for cards, the
 * times of the last `RECENT_TX` payments. Sliding windows of 1, 7 and 30 days are read from the day
 * buckets, the oldest bucket weighted by the part of its day still inside the window.
 *
 * Labels: a fraud report counts from the moment it is made (live: `POST /v1/fraud/reports`; replay:
 * 7 days after the transaction, the data's convention). Nothing here reads a label before then.
 */

export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** 30-day windows that end 7 days ago (the delayed merchant risk) reach back 37 days; one more for the partial day. */
export const RETENTION_DAYS = 38;
/** Payment times kept per card for the 1-hour and 24-hour counts. */
export const RECENT_TX = 24;
/** The replay's label delay (the data's README): a label counts 7 days after its transaction. */
export const LABEL_DELAY_MS = 7 * DAY_MS;
/** "No earlier payment": seconds since the previous payment, capped (a month). */
const NO_PREVIOUS_S = 30 * 86_400;

/** One entity's memory, stored as JSON by the feature store. Arrays are parallel, ordered by day. */
export interface EntityState {
  /** UTC day numbers (epoch ms / DAY_MS, floored), ascending. */
  day: number[];
  /** Payments that day. */
  n: number[];
  /** Sum of amounts (currency units) that day. */
  sum: number[];
  /** Sum of squared amounts that day. */
  sq: number[];
  /** Payments of that day (transaction day) known to be fraud. */
  fraudTx: number[];
  /** Fraud reports made that day (report day), whatever the transaction's day. */
  fraudRep: number[];
  /** Epoch ms of the last `RECENT_TX` payments, ascending (cards only; empty for merchants). */
  recent: number[];
  /** The amounts of those payments (currency units), parallel to `recent`. */
  recentAmount: number[];
}

export function emptyState(): EntityState {
  return { day: [], n: [], sum: [], sq: [], fraudTx: [], fraudRep: [], recent: [], recentAmount: [] };
}

/** One payment as the feature pipeline sees it. */
export interface FeatureTx {
  /** Epoch milliseconds of the payment. */
  at: number;
  /** Minor units (cents); features use currency units, `amountMinor / 100`. */
  amountMinor: number;
}

/** The features, in the order the model's artifact lists them. */
export const FEATURE_NAMES = [
  'amount',
  'hour_of_day',
  'weekday',
  'is_weekend',
  'is_night',
  'card_tx_1h',
  'card_tx_24h',
  'card_tx_7d',
  'card_tx_30d',
  'card_seconds_since_previous',
  'card_avg_amount_1d',
  'card_avg_amount_7d',
  'card_avg_amount_30d',
  'card_amount_ratio_7d',
  'card_amount_ratio_30d',
  'card_amount_zscore_30d',
  'card_frauds_reported_30d',
  'card_avg_amount_baseline',
  'card_amount_ratio_baseline',
  'card_high_amounts_14d',
  'card_max_ratio_14d',
  'merchant_tx_1d',
  'merchant_tx_7d',
  'merchant_tx_30d',
  'merchant_avg_amount_30d',
  'merchant_amount_ratio_30d',
  'merchant_risk_1d',
  'merchant_risk_7d',
  'merchant_risk_30d',
  'merchant_frauds_reported_7d',
  'merchant_frauds_reported_30d',
  'merchant_days_since_known_fraud',
  'merchant_fraud_run_days',
  'merchant_fraud_run_share',
  'merchant_known_genuine_after_fraud',
  'merchant_risk_14d',
  'merchant_known_frauds_7d',
  'merchant_frauds_reported_1d',
  'card_amount_ratio_median',
  'card_amount_zscore_baseline',
  'card_high_share_14d',
  'card_high_amounts_1d',
  'card_tx_14d',
  'merchant_days_since_known_genuine',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];
export type FeatureVector = Float64Array;

/** Index of each feature in a `FeatureVector`. */
export const FEATURE_INDEX = Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, i])) as Record<FeatureName, number>;

/** Currency units from minor units (two decimals: the data's and the gateway's usual currencies). */
export function amountUnits(amountMinor: number): number {
  return amountMinor / 100;
}

/**
 * The features of one payment, from the card's and the merchant's state *before* it (the payment
 * itself is in none of the counts). Call `recordPayment` afterwards.
 */
export function computeFeatures(tx: FeatureTx, card: EntityState, merchant: EntityState): FeatureVector {
  const f = new Float64Array(FEATURE_NAMES.length);
  const amount = amountUnits(tx.amountMinor);
  const at = tx.at;
  const date = new Date(at);
  const hour = date.getUTCHours() + date.getUTCMinutes() / 60;
  const weekday = date.getUTCDay();
  f[0] = amount;
  f[1] = hour;
  f[2] = weekday;
  f[3] = weekday === 0 || weekday === 6 ? 1 : 0;
  f[4] = hour < 6 ? 1 : 0;

  // Card: velocity from the exact recent times, amounts from the day buckets.
  let in1h = 0;
  let in24h = 0;
  for (const t of card.recent) {
    if (t > at - HOUR_MS && t <= at) in1h++;
    if (t > at - DAY_MS && t <= at) in24h++;
  }
  const last = card.recent.length > 0 ? card.recent[card.recent.length - 1]! : undefined;
  f[5] = in1h;
  f[6] = in24h;
  // Windows of 1, 7, 14 and 30 days ending now, in one pass over the buckets.
  const c = windows(card, at, false, CARD_WINDOWS);
  f[7] = c.n[1]!;
  f[8] = c.n[3]!;
  f[9] = last === undefined ? NO_PREVIOUS_S : Math.min(NO_PREVIOUS_S, Math.max(0, (at - last) / 1000));
  f[10] = mean(c, 0);
  f[11] = mean(c, 1);
  f[12] = mean(c, 3);
  f[13] = ratio(amount, c, 1);
  f[14] = ratio(amount, c, 3);
  f[15] = zscore(amount, c, 3);
  f[16] = c.b[3]!;
  // The card's baseline: its 30 days before the last 7, which a compromise of the last week has not
  // inflated yet; then how many of its recent payments were far above that baseline.
  const baseline = windowStats(card, at - LABEL_DELAY_MS, 30, true);
  const baselineMean = baseline.n >= 0.5 ? baseline.sum / baseline.n : mean(c, 3);
  f[17] = baselineMean;
  f[18] = baselineMean > 0 ? amount / baselineMean : -1;
  let high = 0;
  let maxRatio = 0;
  let n14 = 0;
  let high1d = 0;
  for (let i = 0; i < card.recent.length; i++) {
    const t = card.recent[i]!;
    if (t <= at - 14 * DAY_MS || t > at) continue;
    n14++;
    if (baselineMean > 0) {
      const r = card.recentAmount[i]! / baselineMean;
      if (r > 3) {
        high++;
        if (t > at - DAY_MS) high1d++;
      }
      if (r > maxRatio) maxRatio = r;
    }
  }
  f[19] = high;
  f[20] = maxRatio;

  // Merchant: volume and amounts now; risk from labels known, over windows ending 7 days ago (the
  // labels of the last 7 days are mostly not known yet); reports made recently, whatever their day.
  const m = windows(merchant, at, false, MERCHANT_WINDOWS);
  f[21] = m.n[0]!;
  f[22] = m.n[1]!;
  f[23] = m.n[2]!;
  f[24] = mean(m, 2);
  f[25] = ratio(amount, m, 2);
  f[29] = m.b[1]!;
  f[30] = m.b[2]!;
  f[37] = m.b[0]!;
  // Windows of 1, 7, 14 and 30 days ending 7 days ago, the end day weighted by its part before then:
  // payments (n) and those known as fraud (b).
  const k = windows(merchant, at - LABEL_DELAY_MS, true, RISK_WINDOWS);
  f[26] = risk(k, 0);
  f[27] = risk(k, 1);
  f[28] = risk(k, 3);
  f[35] = risk(k, 2);
  f[36] = k.b[1]!;
  f[31] = daysSinceKnownFraud(merchant, at);
  const run = fraudRun(merchant, at);
  f[32] = run.days;
  f[33] = run.share;
  f[34] = run.genuineAfter;

  f[38] = card.recentAmount.length > 0 ? amount / Math.max(0.01, median(card.recentAmount)) : -1;
  f[39] = baselineZscore(amount, baseline, baselineMean);
  f[40] = n14 > 0 ? high / n14 : 0;
  f[41] = high1d;
  f[42] = c.n[2]!;
  f[43] = daysSinceKnownGenuine(merchant, at);
  return f;
}

/** Adds a payment to an entity's state (in place), dropping buckets past the retention. */
export function recordPayment(state: EntityState, tx: FeatureTx, keepRecent: boolean): void {
  const amount = amountUnits(tx.amountMinor);
  const i = bucket(state, Math.floor(tx.at / DAY_MS));
  state.n[i]! += 1;
  state.sum[i]! += amount;
  state.sq[i]! += amount * amount;
  if (keepRecent) {
    // Payments arrive nearly in time order; keep the list sorted all the same.
    let j = state.recent.length;
    while (j > 0 && state.recent[j - 1]! > tx.at) j--;
    state.recent.splice(j, 0, tx.at);
    state.recentAmount.splice(j, 0, amount);
    if (state.recent.length > RECENT_TX) {
      state.recent.splice(0, state.recent.length - RECENT_TX);
      state.recentAmount.splice(0, state.recentAmount.length - RECENT_TX);
    }
  }
  prune(state, Math.floor(tx.at / DAY_MS));
}

/**
 * Records a fraud label, known from `reportedAt` on: the payment (made at `txAt`) counts as fraud
 * in its day's bucket, and as a report in the report day's. A transaction older than the retention
 * only counts as a report.
 */
export function recordFraudReport(state: EntityState, txAt: number, reportedAt: number): void {
  const today = Math.floor(reportedAt / DAY_MS);
  const txDay = Math.floor(txAt / DAY_MS);
  if (txDay > today - RETENTION_DAYS) state.fraudTx[bucket(state, txDay)]! += 1;
  state.fraudRep[bucket(state, today)]! += 1;
  prune(state, today);
}

/** Drops buckets older than the retention relative to `today` (bounded memory). */
export function prune(state: EntityState, today: number): void {
  let drop = 0;
  while (drop < state.day.length && state.day[drop]! <= today - RETENTION_DAYS) drop++;
  if (drop === 0) return;
  for (const key of ['day', 'n', 'sum', 'sq', 'fraudTx', 'fraudRep'] as const) state[key].splice(0, drop);
}

/** Whether nothing in the state can affect a feature any more at `now`: the store may delete it. */
export function isExpired(state: EntityState, now: number): boolean {
  const today = Math.floor(now / DAY_MS);
  const lastDay = state.day.length > 0 ? state.day[state.day.length - 1]! : -Infinity;
  const lastRecent = state.recent.length > 0 ? state.recent[state.recent.length - 1]! : -Infinity;
  return lastDay <= today - RETENTION_DAYS && lastRecent <= now - NO_PREVIOUS_S * 1000;
}

// ---- windows -------------------------------------------------------------------------------------

interface Stats {
  n: number;
  sum: number;
  sq: number;
}

/**
 * Sums over the `days`-day window ending at `end`: whole buckets inside it, the bucket where it
 * starts weighted by the part of that day still inside. With `partialEnd` (a window ending in the
 * past) the bucket where it ends is weighted by the part of its day before `end`.
 */
function windowStats(state: EntityState, end: number, days: number, partialEnd: boolean): Stats {
  const endDay = Math.floor(end / DAY_MS);
  const frac = (end - endDay * DAY_MS) / DAY_MS;
  const startDay = endDay - days;
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (let i = state.day.length - 1; i >= 0; i--) {
    const d = state.day[i]!;
    if (d > endDay) continue;
    if (d < startDay) break;
    const w = d === startDay ? 1 - frac : d === endDay && partialEnd ? frac : 1;
    n += w * state.n[i]!;
    sum += w * state.sum[i]!;
    sq += w * state.sq[i]!;
  }
  return { n, sum, sq };
}

/** Sums over several windows ending at the same time: per window, payments, amounts, squares and `b`. */
interface Windows {
  /** The windows' lengths in days, ascending. */
  days: readonly number[];
  /** The bucket field summed into `b`: reports (windows ending now) or frauds known (windows ending in the past). */
  key: 'fraudRep' | 'fraudTx';
  n: Float64Array;
  sum: Float64Array;
  sq: Float64Array;
  b: Float64Array;
}

function windowSet(days: readonly number[], key: Windows['key']): Windows {
  const k = days.length;
  return { days, key, n: new Float64Array(k), sum: new Float64Array(k), sq: new Float64Array(k), b: new Float64Array(k) };
}

// Reused by every call (the pipeline is synchronous): no allocation per payment.
const CARD_WINDOWS = windowSet([1, 7, 14, 30], 'fraudRep');
const MERCHANT_WINDOWS = windowSet([1, 7, 30], 'fraudRep');
const RISK_WINDOWS = windowSet([1, 7, 14, 30], 'fraudTx');

/**
 * Every window of `w` ending at `end` in one pass over the buckets, each summed exactly as
 * `windowStats` sums it (the same weights, newest bucket first).
 */
function windows(state: EntityState, end: number, partialEnd: boolean, w: Windows): Windows {
  const endDay = Math.floor(end / DAY_MS);
  const frac = (end - endDay * DAY_MS) / DAY_MS;
  const k = w.days.length;
  w.n.fill(0);
  w.sum.fill(0);
  w.sq.fill(0);
  w.b.fill(0);
  const oldest = endDay - w.days[k - 1]!;
  const extra = state[w.key];
  for (let i = state.day.length - 1; i >= 0; i--) {
    const d = state.day[i]!;
    if (d > endDay) continue;
    if (d < oldest) break;
    const n = state.n[i]!;
    const sum = state.sum[i]!;
    const sq = state.sq[i]!;
    const b = extra[i]!;
    for (let j = k - 1; j >= 0; j--) {
      const startDay = endDay - w.days[j]!;
      if (d < startDay) break;
      const weight = d === startDay ? 1 - frac : d === endDay && partialEnd ? frac : 1;
      w.n[j]! += weight * n;
      w.sum[j]! += weight * sum;
      w.sq[j]! += weight * sq;
      w.b[j]! += weight * b;
    }
  }
  return w;
}

/** Share of the merchant's payments in window `j` (ending in the past) known to be fraud (0 with none). */
function risk(w: Windows, j: number): number {
  const n = w.n[j]!;
  if (n < 0.5) return 0;
  return w.b[j]! / n;
}

/** Days from the merchant's latest payment known to be fraud to `at` (the retention + 1 with none known). */
function daysSinceKnownFraud(state: EntityState, at: number): number {
  for (let i = state.day.length - 1; i >= 0; i--) {
    if (state.fraudTx[i]! > 0) return Math.max(0, Math.floor(at / DAY_MS) - state.day[i]!);
  }
  return RETENTION_DAYS + 1;
}

/**
 * The merchant's latest run of payments known to be fraud (a compromised terminal: every payment
 * fraud for weeks): from its latest day with a payment known as fraud back to the first, stopping at a
 * day whose payments were known and all genuine. `days`: from the run's first day to today (the
 * retention + 1 with none known); `share`: fraud among the run's payments; `genuineAfter`: payments
 * after the run's last day whose labels are all known by now (days fully older than 7 days) — the run
 * has ended if there are some.
 */
function fraudRun(state: EntityState, at: number): { days: number; share: number; genuineAfter: number } {
  const today = Math.floor(at / DAY_MS);
  let last = state.day.length - 1;
  while (last >= 0 && !(state.fraudTx[last]! > 0)) last--;
  if (last < 0) return { days: RETENTION_DAYS + 1, share: 0, genuineAfter: 0 };
  let first = last;
  let n = state.n[last]!;
  let fraud = state.fraudTx[last]!;
  for (let j = last - 1; j >= 0; j--) {
    if (state.fraudTx[j]! > 0) {
      first = j;
      n += state.n[j]!;
      fraud += state.fraudTx[j]!;
    } else if (state.n[j]! > 0) break;
  }
  const knownUntil = Math.floor((at - LABEL_DELAY_MS) / DAY_MS); // days before this one are fully known
  let genuineAfter = 0;
  for (let j = last + 1; j < state.day.length && state.day[j]! < knownUntil; j++) genuineAfter += state.n[j]!;
  return { days: Math.max(0, today - state.day[first]!), share: n > 0 ? Math.min(1, fraud / n) : 0, genuineAfter };
}

/**
 * Days from the merchant's latest day whose labels are all known (older than the label delay) and
 * that had a genuine payment, to today (the retention + 1 with none). A terminal can only have been
 * compromised since then without anyone knowing yet: the longer ago, the likelier.
 */
function daysSinceKnownGenuine(state: EntityState, at: number): number {
  const today = Math.floor(at / DAY_MS);
  const knownUntil = Math.floor((at - LABEL_DELAY_MS) / DAY_MS);
  for (let i = state.day.length - 1; i >= 0; i--) {
    const d = state.day[i]!;
    if (d >= knownUntil) continue;
    if (state.n[i]! - state.fraudTx[i]! > 0.5) return today - d;
  }
  return RETENTION_DAYS + 1;
}

const medianScratch = new Float64Array(RECENT_TX);

/** The median of a short list (at most `RECENT_TX` values; a copy is sorted, in a reused buffer). */
function median(values: number[]): number {
  const n = Math.min(values.length, RECENT_TX);
  const s = medianScratch;
  // Insertion sort: a few dozen values, cheaper than a general sort's call.
  for (let i = 0; i < n; i++) {
    const v = values[values.length - n + i]!;
    let j = i;
    while (j > 0 && s[j - 1]! > v) {
      s[j] = s[j - 1]!;
      j--;
    }
    s[j] = v;
  }
  const mid = n >> 1;
  return n % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** How many standard deviations the amount is from the card's baseline (0 without 2 payments in it). */
function baselineZscore(amount: number, baseline: Stats, baselineMean: number): number {
  if (baseline.n < 2) return 0;
  const m = baseline.sum / baseline.n;
  const variance = Math.max(0, baseline.sq / baseline.n - m * m);
  return (amount - baselineMean) / Math.max(Math.sqrt(variance), 1);
}

/** Window `j`'s average amount (0 without payments). */
function mean(w: Windows, j: number): number {
  const n = w.n[j]!;
  return n >= 0.5 ? w.sum[j]! / n : 0;
}

/** The amount against window `j`'s average; -1 when there is no history to compare with. */
function ratio(amount: number, w: Windows, j: number): number {
  const n = w.n[j]!;
  const sum = w.sum[j]!;
  if (n < 0.5 || sum <= 0) return -1;
  return amount / (sum / n);
}

/** How many standard deviations the amount is above window `j`'s average (0 with under 2 payments). */
function zscore(amount: number, w: Windows, j: number): number {
  const n = w.n[j]!;
  if (n < 2) return 0;
  const m = w.sum[j]! / n;
  const variance = Math.max(0, w.sq[j]! / n - m * m);
  return (amount - m) / Math.max(Math.sqrt(variance), 1);
}

/** The index of `day`'s bucket, created (in order) if missing. */
function bucket(state: EntityState, day: number): number {
  let i = state.day.length;
  while (i > 0 && state.day[i - 1]! > day) i--;
  if (i > 0 && state.day[i - 1] === day) return i - 1;
  state.day.splice(i, 0, day);
  state.n.splice(i, 0, 0);
  state.sum.splice(i, 0, 0);
  state.sq.splice(i, 0, 0);
  state.fraudTx.splice(i, 0, 0);
  state.fraudRep.splice(i, 0, 0);
  return i;
}
