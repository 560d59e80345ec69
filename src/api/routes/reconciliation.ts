import { Router } from 'express';
import { requireScope } from '../auth/middleware';
import { ApiError } from '../errors';
import type { ReconciliationReports } from '../../reconciliation/reconciliation-reports';
import { reconciliationDateParam } from '../reconciliation/schemas';
import { parseInput } from '../validation';

/** Operations only (`ops`): the daily reconciliation's report of a day, as its last run left it. */
export function reconciliationRoutes(reports: ReconciliationReports): Router {
  const router = Router();

  router.get('/v1/reconciliation/:date', requireScope('ops'), async (req, res) => {
    const date = parseInput(reconciliationDateParam, req.params.date, 'path', 'date');
    const report = await reports.get(date);
    if (!report) throw new ApiError(404, 'not_found_error', 'reconciliation_not_found', `The reconciliation of ${date} has not run`, 'date');
    res.json({
      object: 'reconciliation_report',
      date: report.date,
      ran_at: Math.floor(report.ranAt / 1000),
      acquirer_lines: report.acquirerLines,
      gateway_lines: report.gatewayLines,
      matched: report.matched,
      mismatches: report.mismatches.map((m) => ({
        kind: m.kind,
        idempotency_key: m.idempotencyKey,
        merchant: m.merchantId,
        payment: m.paymentId,
        currency: m.currency,
        acquirer_amount: m.acquirerAmount ?? null,
        acquirer_ref: m.acquirerRef ?? null,
        gateway_amount: m.gatewayAmount ?? null,
        balance_transaction: m.gatewayTxnId ?? null,
      })),
    });
  });

  return router;
}
