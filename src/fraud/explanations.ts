import { FEATURE_INDEX, FEATURE_NAMES, type FeatureName, type FeatureVector } from './features';
import type { FraudExplanation } from './feature-store';

/**
 * The operator's reasons: the features that pushed a score up most, in words (for example "amount is
 * 5.2× this card's usual amount"). Numbers only, never an identifier: a reason names no card, token or
 * merchant id.
 */
export function explain(features: FeatureVector, contributions: Float64Array, top = 3): FraudExplanation[] {
  return [...contributions]
    .map((contribution, i) => ({ i, contribution }))
    .filter((c) => c.contribution > 0.05)
    .sort((a, b) => b.contribution - a.contribution)
    .slice(0, top)
    .map(({ i, contribution }) => {
      const code = FEATURE_NAMES[i]!;
      return { code, detail: describe(code, features), contribution: Math.round(contribution * 1000) / 1000 };
    });
}

const fixed = (v: number, digits = 1) => (Math.round(v * 10 ** digits) / 10 ** digits).toString();
const count = (v: number) => fixed(v, 1).replace(/\.0$/, '');

function describe(code: FeatureName, f: FeatureVector): string {
  const v = f[FEATURE_INDEX[code]]!;
  const amount = fixed(f[FEATURE_INDEX.amount]!, 2);
  switch (code) {
    case 'amount':
      return `amount ${amount} is unusual for this model (amounts above 220 are rare and risky)`;
    case 'hour_of_day':
      return `paid at ${String(Math.floor(v)).padStart(2, '0')}:${String(Math.round((v % 1) * 60)).padStart(2, '0')} UTC`;
    case 'weekday':
      return `paid on ${['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'][v] ?? 'an unusual day'}`;
    case 'is_weekend':
      return v ? 'paid at the weekend' : 'paid on a weekday';
    case 'is_night':
      return v ? 'paid at night (before 06:00 UTC)' : 'paid in the daytime';
    case 'card_tx_1h':
      return `${count(v)} earlier payments with this card in the last hour`;
    case 'card_tx_24h':
      return `${count(v)} earlier payments with this card in the last 24 hours`;
    case 'card_tx_7d':
      return `${count(v)} earlier payments with this card in the last 7 days`;
    case 'card_tx_30d':
      return v < 0.5 ? 'first payment seen with this card in 30 days' : `${count(v)} earlier payments with this card in the last 30 days`;
    case 'card_seconds_since_previous':
      return v >= 30 * 86_400 ? 'no earlier payment with this card in 30 days' : `${v < 3600 ? `${fixed(v / 60)} minutes` : `${fixed(v / 3600)} hours`} since this card's previous payment`;
    case 'card_avg_amount_1d':
    case 'card_avg_amount_7d':
    case 'card_avg_amount_30d':
      return `this card's average amount over ${code.slice(-2) === '1d' ? '1 day' : code.endsWith('7d') ? '7 days' : '30 days'} is ${fixed(v, 2)}`;
    case 'card_amount_ratio_7d':
      return v < 0 ? 'no earlier payment with this card in 7 days to compare the amount with' : `amount is ${fixed(v)}× this card's 7-day average`;
    case 'card_amount_ratio_30d':
      return v < 0 ? 'no earlier payment with this card in 30 days to compare the amount with' : `amount is ${fixed(v)}× this card's 30-day average`;
    case 'card_amount_zscore_30d':
      return `amount is ${fixed(v)} standard deviations from this card's 30-day average`;
    case 'card_frauds_reported_30d':
      return `${count(v)} fraud reports on this card in the last 30 days`;
    case 'card_avg_amount_baseline':
      return `this card's usual amount (its 30 days before the last 7) is ${fixed(v, 2)}`;
    case 'card_amount_ratio_baseline':
      return v < 0 ? 'no history for this card to compare the amount with' : `amount is ${fixed(v)}× this card's usual amount (its 30 days before the last 7)`;
    case 'card_high_amounts_14d':
      return `${count(v)} of this card's payments in the last 14 days were above 3× its usual amount`;
    case 'card_max_ratio_14d':
      return `this card paid up to ${fixed(v)}× its usual amount in the last 14 days`;
    case 'merchant_tx_1d':
    case 'merchant_tx_7d':
    case 'merchant_tx_30d':
      return `${count(v)} payments at this merchant in the last ${code.endsWith('1d') ? 'day' : code.endsWith('7d') ? '7 days' : '30 days'}`;
    case 'merchant_avg_amount_30d':
      return `this merchant's 30-day average amount is ${fixed(v, 2)}`;
    case 'merchant_amount_ratio_30d':
      return v < 0 ? 'no earlier payment at this merchant in 30 days to compare the amount with' : `amount is ${fixed(v)}× this merchant's 30-day average`;
    case 'merchant_risk_1d':
    case 'merchant_risk_7d':
    case 'merchant_risk_30d':
      return `${fixed(v * 100)} % of this merchant's payments of the ${code.endsWith('1d') ? 'day' : code.endsWith('7d') ? '7 days' : '30 days'} before last week are known fraud`;
    case 'merchant_frauds_reported_7d':
      return `${count(v)} fraud reports at this merchant in the last 7 days`;
    case 'merchant_frauds_reported_30d':
      return `${count(v)} fraud reports at this merchant in the last 30 days`;
    case 'merchant_days_since_known_fraud':
      return v > 38 ? 'no payment known as fraud at this merchant in 38 days' : `this merchant's latest payment known as fraud is ${count(v)} days old`;
    case 'merchant_fraud_run_days':
      return v > 38 ? 'no run of payments known as fraud at this merchant in 38 days' : `this merchant's run of payments known as fraud began ${count(v)} days ago`;
    case 'merchant_fraud_run_share':
      return `${fixed(v * 100)} % of this merchant's payments in its latest run of known frauds were fraud`;
    case 'merchant_known_genuine_after_fraud':
      return `${count(v)} payments at this merchant known as genuine since its latest known fraud`;
    case 'merchant_risk_14d':
      return `${fixed(v * 100)} % of this merchant's payments of the 14 days before last week are known fraud`;
    case 'merchant_known_frauds_7d':
      return `${count(v)} of this merchant's payments of the 7 days before last week are known fraud`;
    case 'merchant_frauds_reported_1d':
      return `${count(v)} fraud reports at this merchant in the last day`;
    case 'card_amount_ratio_median':
      return v < 0 ? "no earlier payment with this card to compare the amount with" : `amount is ${fixed(v)}× the median of this card's last payments`;
    case 'card_amount_zscore_baseline':
      return `amount is ${fixed(v)} standard deviations from this card's usual amount (its 30 days before the last 7)`;
    case 'card_high_share_14d':
      return `${fixed(v * 100)} % of this card's payments in the last 14 days were above 3× its usual amount`;
    case 'card_high_amounts_1d':
      return `${count(v)} of this card's payments in the last 24 hours were above 3× its usual amount`;
    case 'merchant_days_since_known_genuine':
      return v > 38 ? 'no payment known as genuine at this merchant in 38 days' : `this merchant's latest day with a payment known as genuine is ${count(v)} days ago`;
    case 'card_tx_14d':
      return `${count(v)} earlier payments with this card in the last 14 days`;
  }
}
