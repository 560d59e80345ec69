import type { FraudStore } from './fraud-store';
import { DEFAULT_FRAUD_RULES_CONFIG, evaluateFraudRules, type FraudCheckInput, type FraudDecision, type FraudRulesConfig } from './rules';

/**
 * The fraud check of one payment: reads the card's and the merchant's recent history and the
 * blocklist, applies the rules, and records the check so that the next payment counts it.
 *
 * Idempotent per payment: a payment already checked gets its recorded decision back, so an activity
 * retried after a crash (decision committed, result lost) neither counts twice nor changes its mind.
 */
export class FraudChecker {
  constructor(
    private readonly store: FraudStore,
    private readonly config: FraudRulesConfig = DEFAULT_FRAUD_RULES_CONFIG,
    private readonly now: () => number = Date.now,
  ) {}

  check(input: FraudCheckInput): Promise<FraudDecision> {
    return this.store.withTransaction(async (store) => {
      await store.lockFingerprint(input.card.fingerprint);
      const previous = await store.findCheck(input.paymentId);
      if (previous) return { decision: previous.decision, reasons: previous.reasons };

      const at = this.now();
      const context = {
        blocklisted: await store.isBlocklisted(input.card.fingerprint),
        recentByFingerprint: await store.countRecentByFingerprint(input.card.fingerprint, at - this.config.fingerprintWindowMs, input.paymentId),
        recentByMerchant: await store.countRecentByMerchant(input.merchantId, at - this.config.merchantWindowMs, input.paymentId),
      };
      const decision = evaluateFraudRules(input, context, this.config);
      await store.recordCheck({
        paymentId: input.paymentId,
        fingerprint: input.card.fingerprint,
        merchantId: input.merchantId,
        amount: input.amount,
        currency: input.currency,
        decision: decision.decision,
        reasons: decision.reasons,
        at,
      });
      return decision;
    });
  }
}
