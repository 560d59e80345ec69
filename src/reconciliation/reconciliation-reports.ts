import type { Db } from '../storage/db';
import type { Mismatch, ReconciliationResult } from './reconcile';

export interface ReconciliationReport extends ReconciliationResult {
  /** Epoch ms of the run that wrote it. */
  ranAt: number;
}

interface ReportRow {
  report_date: string;
  ran_at: number | string;
  acquirer_lines: number;
  gateway_lines: number;
  matched: number;
  mismatches: string;
}

/** The reports of the daily reconciliation (migration 007): the last run of each day. */
export class ReconciliationReports {
  constructor(private readonly db: Db) {}

  /**
   * Saves the day's report, replacing an earlier run's, and returns the mismatches this run found
   * that the earlier one had not (those are what is newly reported to operations). `alongside`
   * runs in the same transaction (the audit rows).
   */
  async save(result: ReconciliationResult, now: number, alongside?: (tx: Db, fresh: Mismatch[]) => Promise<void>): Promise<Mismatch[]> {
    return this.db.transaction(async (tx) => {
      const [previous] = await tx.query<ReportRow>('SELECT mismatches FROM reconciliation_reports WHERE report_date = $1', [result.date]);
      const seen = new Set(((previous ? JSON.parse(previous.mismatches) : []) as Mismatch[]).map(keyOf));
      const fresh = result.mismatches.filter((m) => !seen.has(keyOf(m)));
      await tx.execute(
        `INSERT INTO reconciliation_reports (report_date, ran_at, acquirer_lines, gateway_lines, matched, mismatch_count, mismatches) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (report_date) DO UPDATE SET ran_at = excluded.ran_at, acquirer_lines = excluded.acquirer_lines, gateway_lines = excluded.gateway_lines,
           matched = excluded.matched, mismatch_count = excluded.mismatch_count, mismatches = excluded.mismatches`,
        [result.date, now, result.acquirerLines, result.gatewayLines, result.matched, result.mismatches.length, JSON.stringify(result.mismatches)],
      );
      await alongside?.(tx, fresh);
      return fresh;
    });
  }

  async get(date: string): Promise<ReconciliationReport | undefined> {
    const [row] = await this.db.query<ReportRow>('SELECT report_date, ran_at, acquirer_lines, gateway_lines, matched, mismatches FROM reconciliation_reports WHERE report_date = $1', [date]);
    if (!row) return undefined;
    return { date: row.report_date, ranAt: Number(row.ran_at), acquirerLines: Number(row.acquirer_lines), gatewayLines: Number(row.gateway_lines), matched: Number(row.matched), mismatches: JSON.parse(row.mismatches) as Mismatch[] };
  }
}

const keyOf = (m: Mismatch) => `${m.kind}\0${m.idempotencyKey}`;
