import { ApplicationFailure } from '@temporalio/activity';
import type { AcquirerClient } from '../acquirer/acquirer-client';
import type { AuditLog } from '../audit/audit-log';
import type { LedgerReader } from '../ledger/merchant-ledger';
import { previousUtcDay, reconcile, utcDay, type Mismatch } from '../reconciliation/reconcile';
import type { ReconciliationReports } from '../reconciliation/reconciliation-reports';

export interface ReconciliationActivityDependencies {
  acquirer: AcquirerClient;
  ledger: LedgerReader;
  reports: ReconciliationReports;
  audit: AuditLog;
  /** The mismatches a run found that the day's previous run had not (the metric counts them). */
  onMismatches?: (fresh: Mismatch[]) => void;
}

export interface ReconciliationSummary {
  date: string;
  acquirerLines: number;
  gatewayLines: number;
  matched: number;
  mismatches: number;
  /** Found by this run, not by an earlier run of the same day. */
  newMismatches: number;
}

/**
 * On the records queue (the worker that holds the ledger): one day of the acquirer's settlement
 * report matched with the merchant ledger (src/reconciliation). Safe to retry and to re-run: the
 * day's report is replaced, and a mismatch is audited and counted once, when first found.
 */
export function createReconciliationActivities({ acquirer, ledger, reports, audit, onMismatches }: ReconciliationActivityDependencies) {
  return {
    async reconcileDay(date: string): Promise<ReconciliationSummary> {
      const day = utcDay(date);
      if (!day) throw ApplicationFailure.nonRetryable(`${JSON.stringify(date)} is not a UTC date (YYYY-MM-DD)`, 'invalid_date');
      const [report, dayBefore, ours] = await Promise.all([acquirer.settlementReport(date), acquirer.settlementReport(previousUtcDay(date)), ledger.postedBetween(day.start, day.end)]);
      const known = await ledger.byAcquirerKeys(report.map((l) => l.idempotencyKey));
      const result = reconcile(date, report, ours, known, new Set(dayBefore.map((l) => l.idempotencyKey)));
      const fresh = await reports.save(result, Date.now(), async (tx, found) => {
        for (const m of found) {
          await audit.append(
            {
              actor: 'worker:records',
              action: 'reconciliation.mismatch',
              merchantId: m.merchantId,
              paymentId: m.paymentId,
              subject: m.idempotencyKey,
              outcome: 'failure',
              details: { date, kind: m.kind, currency: m.currency, ...(m.acquirerAmount !== undefined ? { acquirerAmount: m.acquirerAmount } : {}), ...(m.gatewayAmount !== undefined ? { gatewayAmount: m.gatewayAmount } : {}) },
            },
            tx,
          );
        }
        await audit.append(
          { actor: 'worker:records', action: 'reconciliation.run', outcome: result.mismatches.length === 0 ? 'success' : 'failure', details: { date, matched: result.matched, mismatches: result.mismatches.length, acquirerLines: result.acquirerLines, gatewayLines: result.gatewayLines } },
          tx,
        );
      });
      onMismatches?.(fresh);
      return { date, acquirerLines: result.acquirerLines, gatewayLines: result.gatewayLines, matched: result.matched, mismatches: result.mismatches.length, newMismatches: fresh.length };
    },
  };
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
