import { ApplicationFailure } from '@temporalio/activity';
import { z } from 'zod';
import type { FraudChecker, ReportOutcome } from '../fraud/fraud-checker';
import { fraudCheckInputSchema, type FraudCheckInput, type FraudDecision } from '../fraud/rules';
import { createReadinessActivities } from './readiness';

export type { FraudCheckInput, FraudDecision, FraudOutcome, FraudReason } from '../fraud/rules';

/**
 * The decision as it travels in Temporal: `scoredAt` as an ISO time, since an epoch in ms is a
 * 13-digit run that can pass the Luhn check, which payload scans (rightly) refuse.
 */
export type FraudCheckResult = Omit<FraudDecision, 'scoredAt'> & { scoredAt?: string };

export interface FraudActivityDependencies {
  checker: FraudChecker;
}

export const fraudReportInputSchema = z.object({
  paymentId: z.string().min(1).max(200),
  reason: z.string().max(500).optional(),
  reportedBy: z.string().min(1).max(200),
});
export type FraudReportActivityInput = z.infer<typeof fraudReportInputSchema>;

export interface FraudReportResult {
  paymentId: string;
  /** `recorded`: this call recorded it; `already_reported`: it was reported before (the first report stands). */
  status: 'recorded' | 'already_reported';
  /** Whether the payment had been scored, so that the report changed its card's and merchant's features. */
  scored: boolean;
  reason?: string;
  reportedBy: string;
  /** ISO time of the (first) report. */
  reportedAt: string;
}

/**
 * Activities of the fraud task queue (DESIGN.md §2): the fraud check (rules, then the model over the
 * feature store) and fraud reports (labels). They see the vault's public card metadata and the
 * card's token (hashed at once into the internal card key), never card data.
 */
export function createFraudActivities(deps: FraudActivityDependencies) {
  return {
    ...createReadinessActivities(),

    /**
     * Scores a payment: approve, review or decline, with every reason. A decline is an answer, not a
     * failure; a database error is a failure Temporal retries, and a retry returns the first answer.
     */
    async checkFraud(input: FraudCheckInput): Promise<FraudCheckResult> {
      const { scoredAt, ...decision } = await deps.checker.check(parse(fraudCheckInputSchema, input, 'fraud check'));
      return { ...decision, ...(scoredAt !== undefined ? { scoredAt: new Date(scoredAt).toISOString() } : {}) };
    },

    /** Records a fraud label; reporting twice is the same report. */
    async reportFraud(input: FraudReportActivityInput): Promise<FraudReportResult> {
      const outcome: ReportOutcome = await deps.checker.report(parse(fraudReportInputSchema, input, 'fraud report'));
      const { report } = outcome;
      return {
        paymentId: report.paymentId,
        status: outcome.status === 'already_reported' ? 'already_reported' : 'recorded',
        scored: outcome.status !== 'recorded_unscored',
        ...(report.reason ? { reason: report.reason } : {}),
        reportedBy: report.reportedBy,
        reportedAt: new Date(report.reportedAt).toISOString(),
      };
    },
  };
}

/** A malformed input is a bug in the caller that no retry fixes. Zod's messages name fields, not values. */
function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(`Invalid ${what} input: ${issues}`, what === 'fraud check' ? 'InvalidFraudCheckInput' : 'InvalidFraudReportInput');
  }
  return parsed.data;
}

export type FraudActivities = ReturnType<typeof createFraudActivities>;
