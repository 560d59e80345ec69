import { ApplicationFailure } from '@temporalio/activity';
import type { FraudChecker } from '../fraud/fraud-checker';
import { fraudCheckInputSchema, type FraudCheckInput, type FraudDecision } from '../fraud/rules';
import { createReadinessActivities } from './readiness';

export type { FraudCheckInput, FraudDecision, FraudOutcome, FraudReason } from '../fraud/rules';

export interface FraudActivityDependencies {
  checker: FraudChecker;
}

/**
 * Activities of the fraud task queue (DESIGN.md §2): the rules engine today, the model later.
 * They see the vault's public card metadata only (fingerprint, BIN, last4), never card data.
 */
export function createFraudActivities(deps: FraudActivityDependencies) {
  return {
    ...createReadinessActivities(),

    /**
     * Scores a payment: approve, review or decline, with every reason. A decline is an answer, not a
     * failure; a database error is a failure Temporal retries, and a retry returns the first answer.
     */
    async checkFraud(input: FraudCheckInput): Promise<FraudDecision> {
      const parsed = fraudCheckInputSchema.safeParse(input);
      if (!parsed.success) {
        // A malformed input is a bug in the caller that no retry fixes. Zod's messages name fields, not values.
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
        throw ApplicationFailure.nonRetryable(`Invalid fraud check input: ${issues}`, 'InvalidFraudCheckInput');
      }
      return deps.checker.check(parsed.data);
    },
  };
}

export type FraudActivities = ReturnType<typeof createFraudActivities>;
