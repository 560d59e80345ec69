import {
  DEFAULT_FRAUD_RULES_CONFIG,
  FRAUD_RULES,
  evaluateFraudRules,
  fraudCheckInputSchema,
  fraudRulesConfig,
  type FraudCheckInput,
  type FraudContext,
} from '../../src/fraud/rules';
import { TEST_CARDS, cardSecrets } from '../helpers/test-cards';

/** The vault's public metadata of a test card, as the fraud worker receives it (no PAN). */
function cardOf(pan: string, fingerprint = `fp_${pan.slice(-6)}test`) {
  return { fingerprint, bin: pan.slice(0, 6), last4: pan.slice(-4), brand: 'visa' };
}

function input(overrides: Partial<FraudCheckInput> = {}): FraudCheckInput {
  return { paymentId: 'pay_1', merchantId: 'm_1', amount: 1999, currency: 'USD', card: cardOf(TEST_CARDS.visa), ...overrides };
}

const quiet: FraudContext = { blocklisted: false, recentByFingerprint: 0, recentByMerchant: 0 };

describe('fraud rules', () => {
  it('approves an ordinary payment with no reasons and no score', () => {
    expect(evaluateFraudRules(input(), quiet)).toEqual({ decision: 'approve', reasons: [] });
  });

  it('declines a blocklisted fingerprint, naming the fingerprint and last4', () => {
    const result = evaluateFraudRules(input(), { ...quiet, blocklisted: true });
    expect(result.decision).toBe('decline');
    expect(result.reasons).toEqual([{ rule: 'blocklist', detail: expect.stringContaining('fp_424242test') }]);
    expect(result.reasons[0]!.detail).toContain('…4242');
  });

  describe('amount thresholds', () => {
    it.each([
      [249_999, 'approve', []],
      [250_000, 'review', [FRAUD_RULES.amountReview]],
      [999_999, 'review', [FRAUD_RULES.amountReview]],
      [1_000_000, 'decline', [FRAUD_RULES.amountHardLimit]],
      [5_000_000, 'decline', [FRAUD_RULES.amountHardLimit]],
    ])('amount %i → %s', (amount, decision, rules) => {
      const result = evaluateFraudRules(input({ amount }), quiet);
      expect(result.decision).toBe(decision);
      expect(result.reasons.map((r) => r.rule)).toEqual(rules);
    });

    it('follows configured thresholds', () => {
      const config = fraudRulesConfig({ reviewAmount: 100, declineAmount: 500 });
      expect(evaluateFraudRules(input({ amount: 99 }), quiet, config).decision).toBe('approve');
      expect(evaluateFraudRules(input({ amount: 100 }), quiet, config).decision).toBe('review');
      expect(evaluateFraudRules(input({ amount: 500 }), quiet, config).decision).toBe('decline');
    });
  });

  describe('velocity per card fingerprint (default 5 an hour)', () => {
    // recentByFingerprint counts earlier payments: the Nth payment of the hour sees N - 1.
    it.each([
      [5, 'approve'],
      [6, 'review'],
      [10, 'review'],
      [11, 'decline'],
    ])('payment number %i of the hour → %s', (nth, decision) => {
      const result = evaluateFraudRules(input(), { ...quiet, recentByFingerprint: nth - 1 });
      expect(result.decision).toBe(decision);
      if (decision !== 'approve') {
        expect(result.reasons).toEqual([{ rule: FRAUD_RULES.velocityFingerprint, detail: expect.stringContaining(`${nth} payments with card fp_424242test`) }]);
      }
    });

    it('follows a configured limit', () => {
      const config = fraudRulesConfig({ fingerprintVelocityLimit: 2 });
      expect(evaluateFraudRules(input(), { ...quiet, recentByFingerprint: 2 }, config).decision).toBe('review');
      expect(evaluateFraudRules(input(), { ...quiet, recentByFingerprint: 4 }, config).decision).toBe('decline');
    });
  });

  describe('velocity per merchant (default 120 a minute)', () => {
    it('reviews the 121st payment of the minute, never declines', () => {
      expect(evaluateFraudRules(input(), { ...quiet, recentByMerchant: 119 }).decision).toBe('approve');
      const result = evaluateFraudRules(input(), { ...quiet, recentByMerchant: 120 });
      expect(result).toEqual({ decision: 'review', reasons: [{ rule: FRAUD_RULES.velocityMerchant, detail: expect.stringContaining('121 payments for merchant m_1 within 1 minute') }] });
      expect(evaluateFraudRules(input(), { ...quiet, recentByMerchant: 10_000 }).decision).toBe('review');
    });
  });

  describe('severity', () => {
    it('the most severe outcome wins and every triggered reason is listed, most severe first', () => {
      const result = evaluateFraudRules(input({ amount: 300_000 }), { blocklisted: true, recentByFingerprint: 7, recentByMerchant: 500 });
      expect(result.decision).toBe('decline');
      expect(result.reasons.map((r) => r.rule)).toEqual([
        FRAUD_RULES.blocklist,
        FRAUD_RULES.amountReview,
        FRAUD_RULES.velocityFingerprint,
        FRAUD_RULES.velocityMerchant,
      ]);
    });

    it('a decline from velocity outranks a review from the amount', () => {
      const result = evaluateFraudRules(input({ amount: 300_000 }), { ...quiet, recentByFingerprint: 20 });
      expect(result.decision).toBe('decline');
      expect(result.reasons.map((r) => r.rule)).toEqual([FRAUD_RULES.velocityFingerprint, FRAUD_RULES.amountReview]);
    });

    it('several reviews stay a review', () => {
      const result = evaluateFraudRules(input({ amount: 300_000 }), { ...quiet, recentByMerchant: 200 });
      expect(result.decision).toBe('review');
      expect(result.reasons).toHaveLength(2);
    });
  });

  describe('sandbox test cards (matched on BIN and last4)', () => {
    it('declines the blocklisted test card as blocklisted', () => {
      const result = evaluateFraudRules(input({ card: cardOf(TEST_CARDS.fraudBlocklisted) }), quiet);
      expect(result).toEqual({ decision: 'decline', reasons: [{ rule: 'blocklist', detail: expect.stringContaining('sandbox') }] });
    });

    it('sends the review test card to review', () => {
      const result = evaluateFraudRules(input({ card: cardOf(TEST_CARDS.fraudReview) }), quiet);
      expect(result).toEqual({ decision: 'review', reasons: [{ rule: 'sandbox_review', detail: expect.stringContaining('…4954') }] });
    });

    it('needs both BIN and last4 to match', () => {
      const sameLast4 = { ...cardOf(TEST_CARDS.fraudBlocklisted), bin: '424242' };
      const sameBin = { ...cardOf(TEST_CARDS.fraudReview), last4: '4242' };
      expect(evaluateFraudRules(input({ card: sameLast4 }), quiet).decision).toBe('approve');
      expect(evaluateFraudRules(input({ card: sameBin }), quiet).decision).toBe('approve');
    });

    it('has no effect with sandbox rules off (production)', () => {
      const config = fraudRulesConfig({ sandboxRules: false });
      expect(evaluateFraudRules(input({ card: cardOf(TEST_CARDS.fraudBlocklisted) }), quiet, config).decision).toBe('approve');
      expect(evaluateFraudRules(input({ card: cardOf(TEST_CARDS.fraudReview) }), quiet, config).decision).toBe('approve');
    });

    it('a card both blocklisted and the sandbox blocklisted card gives one blocklist reason', () => {
      const result = evaluateFraudRules(input({ card: cardOf(TEST_CARDS.fraudBlocklisted) }), { ...quiet, blocklisted: true });
      expect(result.reasons.map((r) => r.rule)).toEqual(['blocklist']);
    });

    it('is on by default', () => {
      expect(DEFAULT_FRAUD_RULES_CONFIG.sandboxRules).toBe(true);
    });
  });

  describe('no card numbers in reasons', () => {
    it('no reason contains a test card number, whatever fires', () => {
      const everything: FraudContext = { blocklisted: true, recentByFingerprint: 50, recentByMerchant: 500 };
      for (const pan of Object.values(TEST_CARDS)) {
        const result = evaluateFraudRules(input({ amount: 2_000_000, card: cardOf(pan) }), everything);
        expect(result.reasons.length).toBeGreaterThanOrEqual(4);
        const serialized = JSON.stringify(result);
        for (const secret of cardSecrets()) expect(serialized).not.toContain(secret);
      }
    });

    it('masks any card-length digit run, even one smuggled in through a merchant id or an amount', () => {
      const result = evaluateFraudRules(input({ merchantId: `m_${TEST_CARDS.visa}`, amount: Number(TEST_CARDS.visa) }), { ...quiet, recentByMerchant: 500 });
      const serialized = JSON.stringify(result);
      expect(serialized).not.toContain(TEST_CARDS.visa);
      expect(serialized).toContain('[16 digits masked]');
    });
  });

  describe('configuration and input validation', () => {
    it('rejects a review threshold above the decline limit, and non-positive limits', () => {
      expect(() => fraudRulesConfig({ reviewAmount: 2_000_000 })).toThrow(/review amount/);
      expect(() => fraudRulesConfig({ fingerprintVelocityLimit: 0 })).toThrow();
    });

    it('keeps defaults for overrides left undefined', () => {
      expect(fraudRulesConfig({ reviewAmount: undefined })).toEqual(DEFAULT_FRAUD_RULES_CONFIG);
    });

    it('accepts a vault TokenizedCard as the card, dropping what the rules do not use', () => {
      const card = { ...cardOf(TEST_CARDS.visa), token: 'tok_1', expMonth: 12, expYear: 2030, issuingCountry: 'US' };
      const parsed = fraudCheckInputSchema.parse(input({ card }));
      expect(parsed.card).toEqual({ ...cardOf(TEST_CARDS.visa), issuingCountry: 'US' });
    });

    it('rejects malformed inputs', () => {
      expect(fraudCheckInputSchema.safeParse(input({ amount: -1 })).success).toBe(false);
      expect(fraudCheckInputSchema.safeParse(input({ amount: 1.5 })).success).toBe(false);
      expect(fraudCheckInputSchema.safeParse(input({ currency: 'usd' })).success).toBe(false);
      expect(fraudCheckInputSchema.safeParse(input({ card: { ...cardOf(TEST_CARDS.visa), last4: '42' } })).success).toBe(false);
    });
  });
});
