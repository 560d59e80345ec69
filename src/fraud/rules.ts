import { z } from 'zod';

/**
 * The fraud rules engine (DESIGN.md §4, "fraud check"): pure evaluation of one payment against
 * amount thresholds, velocity counts and the blocklist. It stands in for the machine-learning model
 * until that arrives; the model will fill `score`, the rules never do.
 *
 * Everything here works on the vault's public card metadata (fingerprint, BIN, last4): the fraud
 * worker never sees a PAN, and no reason it writes may contain one.
 */

export type FraudOutcome = 'approve' | 'review' | 'decline';

/** What the fraud check knows about the card: the vault's public metadata (`TokenizedCard`), nothing more. */
export interface FraudCard {
  /** Keyed HMAC of the PAN (the vault's): the same card gives the same fingerprint for every merchant. */
  fingerprint: string;
  bin: string;
  last4: string;
  brand: string;
  issuingCountry?: string;
}

export interface FraudCheckInput {
  paymentId: string;
  merchantId: string;
  /** Minor units of `currency`. */
  amount: number;
  currency: string;
  card: FraudCard;
  /**
   * The vault's token for the card, from which the fraud worker derives its internal card key
   * (src/fraud/card-key.ts). Absent in checks scheduled before the model: the fingerprint stands in.
   */
  cardToken?: string;
}

/**
 * The input as it arrives in an activity: checked, because a malformed one is a bug upstream that no
 * retry fixes. Unknown keys are dropped, so the workflow may pass the vault's whole `TokenizedCard`.
 */
export const fraudCheckInputSchema = z.object({
  paymentId: z.string().min(1),
  merchantId: z.string().min(1),
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code in upper case'),
  card: z.object({
    fingerprint: z.string().min(1),
    bin: z.string().regex(/^\d{6,8}$/, 'must be 6 to 8 digits'),
    last4: z.string().regex(/^\d{4}$/, 'must be 4 digits'),
    brand: z.string().min(1),
    issuingCountry: z.string().optional(),
  }),
  cardToken: z.string().min(1).max(200).optional(),
}) satisfies z.ZodType<FraudCheckInput>;

export interface FraudReason {
  /** One of `FRAUD_RULES` today; the model will add its own. */
  rule: string;
  /** For the operator deciding a review: counts, thresholds, the fingerprint and last4, never a card number. */
  detail: string;
}

export interface FraudDecision {
  decision: FraudOutcome;
  /** Every rule that fired, most severe first; empty when approved. */
  reasons: FraudReason[];
  /** The model's probability of fraud, 0 to 1 (absent when no model scored the payment). */
  score?: number;
  /** The model artifact's version that gave `score`. */
  modelVersion?: string;
  /** For operations: the features that pushed the score most, in words, never identifiers. */
  explanations?: { code: string; detail: string; contribution: number }[];
  /** Epoch ms the features were read at (the payment's time for the model). */
  scoredAt?: number;
}

/** The names rules report under, stable for dashboards and the review queue. */
export const FRAUD_RULES = {
  blocklist: 'blocklist',
  amountHardLimit: 'amount_hard_limit',
  amountReview: 'amount_review',
  velocityFingerprint: 'velocity_fingerprint',
  velocityMerchant: 'velocity_merchant',
  sandboxReview: 'sandbox_review',
  /** The model's score is at or above the review or decline threshold. */
  modelScore: 'model_score',
} as const;

/** A test card the sandbox treats specially, recognised by BIN and last4 (the worker never sees the PAN). */
export interface SandboxCard {
  bin: string;
  last4: string;
  treatment: 'blocklist' | 'review';
}

/** The acquirer sandbox's fraud test cards (README, "Test cards"): 4100 0000 0000 0019 and 4000 0000 0000 4954. */
export const SANDBOX_CARDS: readonly SandboxCard[] = [
  { bin: '410000', last4: '0019', treatment: 'blocklist' },
  { bin: '400000', last4: '4954', treatment: 'review' },
];

/**
 * Every test card of the acquirer sandbox (README, "Test cards"), by BIN and last4. In sandbox mode
 * their documented outcomes hold: the model scores them (the score is shown) but does not decide for
 * them, so that a test or a demo gets what the table says whatever the card's history.
 */
export const SANDBOX_TEST_CARDS: readonly { bin: string; last4: string }[] = [
  { bin: '424242', last4: '4242' },
  { bin: '555555', last4: '4444' },
  { bin: '378282', last4: '0005' },
  { bin: '601111', last4: '1117' },
  ...['0002', '9995', '0127', '0069', '0119', '0259', '0341', '4954'].map((last4) => ({ bin: '400000', last4 })),
  { bin: '410000', last4: '0019' },
];

/** Whether the model's answer is advisory only for this card: a sandbox test card in sandbox mode. */
export function isSandboxTestCard(card: Pick<FraudCard, 'bin' | 'last4'>, config: Pick<FraudRulesConfig, 'sandboxRules'>): boolean {
  return config.sandboxRules && SANDBOX_TEST_CARDS.some((c) => card.bin.startsWith(c.bin) && card.last4 === c.last4);
}

const positiveInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const fraudRulesConfigSchema = z
  .object({
    /** Amount (minor units) at or above which a payment is declined outright. */
    declineAmount: positiveInt,
    /** Amount (minor units) at or above which a payment goes to review. */
    reviewAmount: positiveInt,
    /** More than this many payments with one card within `fingerprintWindowMs` → review; more than twice as many → decline. */
    fingerprintVelocityLimit: positiveInt,
    fingerprintWindowMs: positiveInt,
    /** More than this many payments for one merchant within `merchantWindowMs` → review. */
    merchantVelocityLimit: positiveInt,
    merchantWindowMs: positiveInt,
    /** Whether the sandbox's fraud test cards trigger their outcomes. On in development, off in production. */
    sandboxRules: z.boolean(),
    sandboxCards: z.array(z.object({ bin: z.string(), last4: z.string(), treatment: z.enum(['blocklist', 'review']) })).readonly(),
  })
  .refine((c) => c.reviewAmount <= c.declineAmount, {
    message: 'the review amount must not be above the decline amount',
    path: ['reviewAmount'],
  });

export type FraudRulesConfig = z.infer<typeof fraudRulesConfigSchema>;

export const DEFAULT_FRAUD_RULES_CONFIG: FraudRulesConfig = Object.freeze({
  declineAmount: 1_000_000,
  reviewAmount: 250_000,
  fingerprintVelocityLimit: 5,
  fingerprintWindowMs: 60 * 60_000,
  merchantVelocityLimit: 120,
  merchantWindowMs: 60_000,
  sandboxRules: true,
  sandboxCards: SANDBOX_CARDS,
});

/** The defaults with `overrides` applied, validated: a misconfigured threshold fails at start-up, not on a payment. */
export function fraudRulesConfig(overrides: Partial<FraudRulesConfig> = {}): FraudRulesConfig {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return fraudRulesConfigSchema.parse({ ...DEFAULT_FRAUD_RULES_CONFIG, ...defined });
}

/** What the store knows about the card and the merchant at the time of the check. */
export interface FraudContext {
  /** The card's fingerprint is on the blocklist. */
  blocklisted: boolean;
  /** Earlier checks for this fingerprint within `fingerprintWindowMs`, not counting this payment. */
  recentByFingerprint: number;
  /** Earlier checks for this merchant within `merchantWindowMs`, not counting this payment. */
  recentByMerchant: number;
}

const SEVERITY: Record<FraudOutcome, number> = { approve: 0, review: 1, decline: 2 };

interface Finding extends FraudReason {
  outcome: Exclude<FraudOutcome, 'approve'>;
}

/**
 * Evaluates every rule and returns the most severe outcome with every reason that fired.
 * Velocity counts this payment too: with the default limit of 5, the sixth payment of the hour
 * with one card goes to review and the eleventh is declined.
 */
export function evaluateFraudRules(input: FraudCheckInput, context: FraudContext, config: FraudRulesConfig = DEFAULT_FRAUD_RULES_CONFIG): FraudDecision {
  const card = `card ${input.card.fingerprint} (…${input.card.last4})`;
  const findings: Finding[] = [];
  const sandbox = config.sandboxRules
    ? config.sandboxCards.find((c) => c.bin === input.card.bin && c.last4 === input.card.last4)
    : undefined;

  if (context.blocklisted) {
    findings.push({ outcome: 'decline', rule: FRAUD_RULES.blocklist, detail: `${card} is on the blocklist` });
  } else if (sandbox?.treatment === 'blocklist') {
    findings.push({ outcome: 'decline', rule: FRAUD_RULES.blocklist, detail: `${card} is the sandbox's blocklisted test card` });
  }
  if (sandbox?.treatment === 'review') {
    findings.push({ outcome: 'review', rule: FRAUD_RULES.sandboxReview, detail: `${card} is the sandbox's review test card` });
  }

  const amount = `amount ${input.amount} (minor units of ${input.currency})`;
  if (input.amount >= config.declineAmount) {
    findings.push({ outcome: 'decline', rule: FRAUD_RULES.amountHardLimit, detail: `${amount} is at or above the decline limit ${config.declineAmount}` });
  } else if (input.amount >= config.reviewAmount) {
    findings.push({ outcome: 'review', rule: FRAUD_RULES.amountReview, detail: `${amount} is at or above the review threshold ${config.reviewAmount}` });
  }

  const byCard = context.recentByFingerprint + 1;
  if (byCard > config.fingerprintVelocityLimit) {
    const declined = byCard > 2 * config.fingerprintVelocityLimit;
    findings.push({
      outcome: declined ? 'decline' : 'review',
      rule: FRAUD_RULES.velocityFingerprint,
      detail:
        `${byCard} payments with ${card} within ${describeWindow(config.fingerprintWindowMs)} ` +
        `(review above ${config.fingerprintVelocityLimit}, decline above ${2 * config.fingerprintVelocityLimit})`,
    });
  }

  const byMerchant = context.recentByMerchant + 1;
  if (byMerchant > config.merchantVelocityLimit) {
    findings.push({
      outcome: 'review',
      rule: FRAUD_RULES.velocityMerchant,
      detail: `${byMerchant} payments for merchant ${input.merchantId} within ${describeWindow(config.merchantWindowMs)} (review above ${config.merchantVelocityLimit})`,
    });
  }

  // Stable sort: among equally severe reasons, the order above (blocklist, amount, velocity) stays.
  findings.sort((a, b) => SEVERITY[b.outcome] - SEVERITY[a.outcome]);
  const decision = findings[0]?.outcome ?? 'approve';
  return { decision, reasons: findings.map(({ rule, detail }) => ({ rule, detail: maskDigitRuns(detail) })) };
}

/**
 * Defence in depth (DESIGN.md §3, invariants 1–2): reasons travel in Temporal payloads and reach
 * operators, so any run of digits long enough to be a card number is masked, whatever its source
 * (a merchant id or an amount that is really a pasted PAN).
 */
function maskDigitRuns(text: string): string {
  return text.replace(/\d{13,}/g, (run) => `[${run.length} digits masked]`);
}

function describeWindow(ms: number): string {
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? '1 hour' : `${ms / 3_600_000} hours`;
  if (ms % 60_000 === 0) return ms === 60_000 ? '1 minute' : `${ms / 60_000} minutes`;
  return `${ms / 1000} seconds`;
}
