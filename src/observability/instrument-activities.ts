import { ApplicationFailure } from '@temporalio/common';
import { AcquirerRejectedError, AcquirerUnavailableError } from '../acquirer/acquirer-client';
import type { VaultReferenceError } from '../vault/vault';
import type { AcquirerOperation, AcquirerOutcome, Metrics } from './metrics';

/** Activity name → the acquirer operation it performs. Other activities do not call the acquirer. */
const ACQUIRER_ACTIVITIES: Record<string, AcquirerOperation> = {
  authorize: 'authorize',
  capturePayment: 'capture',
  voidAuthorization: 'void',
  refundPayment: 'refund',
  settlePayment: 'settle',
};

/** Failure types of src/activities/vault.ts: the card or CVV was gone, so the acquirer was never called. */
const VAULT_REFERENCE_CODES: ReadonlySet<string> = new Set<VaultReferenceError['code']>(['intake_not_found', 'card_not_found', 'cvv_not_found']);

/** The failure type src/activities/acquirer-failures.ts gives an unavailable acquirer. */
const ACQUIRER_UNAVAILABLE = 'acquirer_unavailable';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- activities take any arguments; the wrapper forwards them untouched
type ActivityFunction = (...args: any[]) => Promise<unknown>;

/**
 * Wraps a worker's activities so that each call records what it came to, with labels from fixed
 * lists only (never an argument, a result's reference or an error message):
 *
 * - `authorize`, `capturePayment`, `voidAuthorization`, `refundPayment`, `settlePayment` →
 *   `acquirer_calls_total{operation, outcome}` and `acquirer_call_duration_seconds`;
 * - `checkFraud` → `fraud_decisions_total{decision}`;
 * - `purgeCvv`, and `authorize` when the vault destroyed the CVV with the answer → `cvv_purges_total{result}`.
 *
 * Other activities (tokenize, ping) are passed through untouched. Results and errors are returned
 * and rethrown exactly as they were: Temporal's retry decisions do not change. Per-activity-type
 * counts, failures and latencies come from the Temporal SDK's own worker metrics
 * (`temporal_activity_execution_*`), so they are not repeated here.
 *
 * Recording never throws into the activity: a metrics bug cannot fail a payment.
 */
export function instrumentActivities<T extends object>(activities: T, metrics: Metrics): T {
  const wrapped: Record<string, unknown> = { ...(activities as Record<string, unknown>) };
  for (const [name, value] of Object.entries(activities)) {
    if (typeof value !== 'function') continue;
    const fn = value as ActivityFunction;
    const operation = ACQUIRER_ACTIVITIES[name];
    if (operation) {
      metrics.initAcquirerOperation(operation);
      if (name === 'authorize') metrics.initCvvPurges();
      wrapped[name] = observe(fn, activities, (outcome, seconds) => {
        metrics.recordAcquirerCall(operation, acquirerOutcome(outcome), seconds);
        // The vault destroys the CVV with the authorization's answer (src/activities/vault.ts): a purge too.
        if (name === 'authorize' && outcome.ok && (outcome.value as { cvvPurged?: unknown } | undefined)?.cvvPurged === true) metrics.recordCvvPurge('purged');
      });
    } else if (name === 'checkFraud') {
      metrics.initFraudDecisions();
      wrapped[name] = observe(fn, activities, (outcome) => {
        if (outcome.ok) metrics.recordFraudDecision(String((outcome.value as { decision?: unknown } | undefined)?.decision));
      });
    } else if (name === 'purgeCvv') {
      metrics.initCvvPurges();
      wrapped[name] = observe(fn, activities, (outcome) => {
        metrics.recordCvvPurge(!outcome.ok ? 'failed' : (outcome.value as { purged?: unknown } | undefined)?.purged ? 'purged' : 'already_gone');
      });
    }
  }
  return wrapped as T;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function observe(fn: ActivityFunction, self: unknown, record: (outcome: Outcome, seconds: number) => void): ActivityFunction {
  return async function instrumented(...args: unknown[]) {
    const started = process.hrtime.bigint();
    const safeRecord = (outcome: Outcome) => {
      try {
        record(outcome, Number(process.hrtime.bigint() - started) / 1e9);
      } catch {
        // A metric is not worth a failed activity.
      }
    };
    let value: unknown;
    try {
      value = await fn.apply(self, args);
    } catch (error) {
      safeRecord({ ok: false, error });
      throw error;
    }
    safeRecord({ ok: true, value });
    return value;
  };
}

/** What an acquirer activity's result or failure says about the acquirer's answer. */
export function acquirerOutcome(outcome: Outcome): AcquirerOutcome {
  if (outcome.ok) return (outcome.value as { outcome?: unknown } | undefined)?.outcome === 'declined' ? 'declined' : 'succeeded';
  const { error } = outcome;
  if (error instanceof AcquirerUnavailableError) return 'unavailable';
  if (error instanceof AcquirerRejectedError) return 'rejected';
  if (error instanceof ApplicationFailure) {
    if (error.type === ACQUIRER_UNAVAILABLE) return 'unavailable';
    if (error.nonRetryable && !VAULT_REFERENCE_CODES.has(error.type ?? '')) return 'rejected';
  }
  return 'error';
}
