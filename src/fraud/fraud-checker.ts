import { cardKeyOf } from './card-key';
import { explain } from './explanations';
import { cardEntity, entityLocks, merchantEntity, type FraudExplanation, type ReportRecord } from './feature-store';
import { computeFeatures, recordFraudReport, recordPayment } from './features';
import type { FraudStore } from './fraud-store';
import type { FraudModel } from './model';
import {
  DEFAULT_FRAUD_RULES_CONFIG,
  FRAUD_RULES,
  evaluateFraudRules,
  isSandboxTestCard,
  type FraudCheckInput,
  type FraudDecision,
  type FraudOutcome,
  type FraudReason,
  type FraudRulesConfig,
} from './rules';

/** Score thresholds: the artifact's (chosen for the review budget), or the configuration's. */
export interface ModelThresholds {
  review: number;
  decline: number;
}

export interface FraudCheckerOptions {
  rules?: FraudRulesConfig;
  /** Without a model the rules decide alone (as before the model existed). */
  model?: FraudModel;
  /** Overrides the artifact's thresholds (FRAUD_REVIEW_SCORE, FRAUD_DECLINE_SCORE). */
  thresholds?: Partial<ModelThresholds>;
  now?: () => number;
  /** Called once per payment scored (not for a retry that finds its first answer): metrics. */
  onScored?: (score: number, decision: FraudOutcome, modelVersion: string) => void;
}

export type ReportOutcome =
  | { status: 'recorded'; report: ReportRecord }
  | { status: 'already_reported'; report: ReportRecord }
  /** The payment was never checked (it failed before the fraud check): recorded, but no features change. */
  | { status: 'recorded_unscored'; report: ReportRecord };

const SEVERITY: Record<FraudOutcome, number> = { approve: 0, review: 1, decline: 2 };

/**
 * The fraud check of one payment. The rules stay a first line (blocklist, hard amount limits,
 * velocity, the sandbox's cards); the model scores every payment from the card's and the merchant's
 * feature states; the more severe of the two answers decides. The check, the score and the updated
 * states are written in one transaction, so the next payment sees this one.
 *
 * Idempotent per payment: a payment already checked gets its recorded answer back, so an activity
 * retried after a crash (decision committed, result lost) neither counts twice nor changes its mind.
 */
export class FraudChecker {
  private readonly rules: FraudRulesConfig;
  private readonly now: () => number;
  readonly thresholds: ModelThresholds | undefined;

  constructor(
    private readonly store: FraudStore,
    options: FraudCheckerOptions | FraudRulesConfig = {},
    now?: () => number,
  ) {
    // The rules-only signature (store, config, now) of the first version stays valid.
    const opts: FraudCheckerOptions = 'declineAmount' in options ? { rules: options, ...(now ? { now } : {}) } : options;
    this.rules = opts.rules ?? DEFAULT_FRAUD_RULES_CONFIG;
    this.now = opts.now ?? now ?? Date.now;
    this.model = opts.model;
    this.onScored = opts.onScored;
    this.thresholds = opts.model
      ? {
          review: opts.thresholds?.review ?? opts.model.artifact.thresholds.review,
          decline: opts.thresholds?.decline ?? opts.model.artifact.thresholds.decline,
        }
      : undefined;
  }

  private readonly model: FraudModel | undefined;
  private readonly onScored: FraudCheckerOptions['onScored'];

  get modelVersion(): string | undefined {
    return this.model?.version;
  }

  check(input: FraudCheckInput): Promise<FraudDecision> {
    let scored: { score: number; decision: FraudOutcome; version: string } | undefined;
    return this.store
      .withTransaction(async (store) => {
        // The fraud engine's own card key, the same at every merchant (the fingerprint a payment
        // carries is the merchant's own, DESIGN.md §3a): velocity, the blocklist and the features
        // all key on it, and it is never written into anything a merchant reads.
        // A check scheduled before payments carried the token (the first release) has only the
        // fingerprint, which was global then: it stands in.
        const cardKey = input.cardToken ? cardKeyOf(input.cardToken) : `fp:${input.card.fingerprint}`;
        const ruleKey = input.cardToken ? cardKey : input.card.fingerprint;
        const entities = [cardEntity(cardKey), merchantEntity(input.merchantId)];
        // The card's lock first, then the feature states', and then everything the check reads: one
        // round trip on PostgreSQL (FraudStore.openCheck). The velocity windows start from the time
        // before the lock wait, so they are at most that wait longer than the rules say (they count
        // more, never less); the payment's own time is taken once the locks are held, so a card's
        // payments are recorded in the order they were checked.
        const asked = this.now();
        const { previous, context, states } = await store.openCheck({
          fingerprint: ruleKey,
          merchantId: input.merchantId,
          paymentId: input.paymentId,
          since: { fingerprint: asked - this.rules.fingerprintWindowMs, merchant: asked - this.rules.merchantWindowMs },
          locks: this.model ? entityLocks(entities) : [],
          entities: this.model ? entities : [],
        });
        if (previous) {
          const score = await store.features.findScore(input.paymentId);
          return withModel({ decision: previous.decision, reasons: previous.reasons }, score);
        }
        const at = Math.max(asked, this.now());
        const ruled = evaluateFraudRules(input, context, this.rules);
        let decision: FraudDecision = ruled;
        let explanations: FraudExplanation[] = [];
        let score: number | undefined;
        let written: Parameters<FraudStore['closeCheck']>[1];
        if (this.model && this.thresholds) {
          const card = states.get(entities[0]!)!;
          const merchant = states.get(entities[1]!)!;
          const tx = { at, amountMinor: input.amount };
          const features = computeFeatures(tx, card, merchant);
          const explained = this.model.explain(features);
          score = explained.score;
          explanations = explain(features, explained.contributions);
          // A sandbox test card keeps its documented outcome (rules.ts, SANDBOX_TEST_CARDS): the score is shown, not applied.
          decision = isSandboxTestCard(input.card, this.rules) ? ruled : combine(ruled, score, this.thresholds, this.model.version);
          recordPayment(card, tx, true);
          recordPayment(merchant, tx, false);
          written = {
            states: [
              [entities[0]!, card],
              [entities[1]!, merchant],
            ],
            score: {
              paymentId: input.paymentId,
              cardKey,
              merchantId: input.merchantId,
              amount: input.amount,
              currency: input.currency,
              scoredAt: at,
              score,
              modelVersion: this.model.version,
              features: [...features],
              explanations,
            },
          };
          scored = { score, decision: decision.decision, version: this.model.version };
        }
        // The states, the score and the check: one statement on PostgreSQL.
        await store.closeCheck(
          {
            paymentId: input.paymentId,
            fingerprint: ruleKey,
            merchantId: input.merchantId,
            amount: input.amount,
            currency: input.currency,
            decision: decision.decision,
            reasons: decision.reasons,
            at,
          },
          written,
        );
        return score === undefined ? decision : { ...decision, score, modelVersion: this.model!.version, explanations, scoredAt: at };
      })
      .then((decision) => {
        if (scored) this.onScored?.(scored.score, scored.decision, scored.version);
        return decision;
      });
  }

  /**
   * A fraud label (chargeback, cardholder claim): counts from now on in the features of the card and
   * the merchant of the payment. Reporting a payment twice changes nothing the second time.
   */
  report(input: { paymentId: string; reason?: string; reportedBy: string }): Promise<ReportOutcome> {
    return this.store.withTransaction(async (store) => {
      const existing = await store.features.findReport(input.paymentId);
      if (existing) return { status: 'already_reported', report: existing };
      const report: ReportRecord = { paymentId: input.paymentId, reportedBy: input.reportedBy, reportedAt: this.now(), ...(input.reason ? { reason: input.reason } : {}) };
      const scored = await store.features.findScore(input.paymentId);
      if (!scored) {
        await store.features.recordReport(report);
        return { status: 'recorded_unscored', report };
      }
      const entities = [cardEntity(scored.cardKey), merchantEntity(scored.merchantId)];
      await store.features.lockEntities(entities);
      if (!(await store.features.recordReport(report))) {
        return { status: 'already_reported', report: (await store.features.findReport(input.paymentId))! };
      }
      const states = await store.features.loadStates(entities);
      for (const entity of entities) recordFraudReport(states.get(entity)!, scored.scoredAt, report.reportedAt);
      await store.features.saveStates(
        entities.map((entity) => [entity, states.get(entity)!]),
        report.reportedAt,
      );
      return { status: 'recorded', report };
    });
  }
}

/** The more severe of the rules' answer and the model's; the rules' reasons first, then the model's. */
function combine(ruled: FraudDecision, score: number, thresholds: ModelThresholds, version: string): FraudDecision {
  const byModel: FraudOutcome = score >= thresholds.decline ? 'decline' : score >= thresholds.review ? 'review' : 'approve';
  const reasons: FraudReason[] = [...ruled.reasons];
  if (byModel !== 'approve') {
    const threshold = byModel === 'decline' ? thresholds.decline : thresholds.review;
    const reason = {
      rule: FRAUD_RULES.modelScore,
      detail: `fraud score ${score.toFixed(4)} is at or above the ${byModel} threshold ${threshold.toFixed(4)} (model ${version})`,
    };
    // Most severe first, as the rules order theirs.
    if (SEVERITY[byModel] > SEVERITY[ruled.decision]) reasons.unshift(reason);
    else reasons.push(reason);
  }
  const decision = SEVERITY[byModel] > SEVERITY[ruled.decision] ? byModel : ruled.decision;
  return { decision, reasons };
}

function withModel(decision: FraudDecision, score: { score: number; modelVersion: string; explanations: FraudExplanation[]; scoredAt: number } | undefined): FraudDecision {
  return score ? { ...decision, score: score.score, modelVersion: score.modelVersion, explanations: score.explanations, scoredAt: score.scoredAt } : decision;
}
