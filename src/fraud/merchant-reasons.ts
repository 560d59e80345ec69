import { FRAUD_RULES } from './rules';

/**
 * What a merchant may read of a fraud decision's reasons (DESIGN.md §3a, per-merchant view).
 *
 * The rules' details are written for operations and some of them describe the card's activity
 * across every merchant ("7 payments with card … within 1 hour"). A merchant learns from its own
 * payment only that the rule fired: the reason code stays, the card-wide figures are replaced by a
 * sentence without numbers. Details built from the merchant's own payment (its amount, its own
 * velocity, the score) are kept as they are.
 */
const CARD_WIDE_DETAILS: Partial<Record<string, string>> = {
  [FRAUD_RULES.velocityFingerprint]: 'this card was used unusually often in a short time',
  [FRAUD_RULES.blocklist]: 'this card is on the blocklist',
};

export function merchantFacingReasons(reasons: readonly { rule: string; detail: string }[]): { rule: string; detail: string }[] {
  return reasons.map(({ rule, detail }) => ({ rule, detail: CARD_WIDE_DETAILS[rule] ?? detail }));
}
