import type { SettlementReportLine } from '../acquirer/acquirer-client';
import type { LedgerTransaction } from '../ledger/merchant-ledger';

/**
 * Matching one day of the acquirer's books with ours, line by line. A money movement is the same
 * on both sides when it carries the same idempotency key (`<payment id>:<step>`): the gateway
 * sends every acquirer call under one (src/activities/acquirer-keys.ts) and the ledger keeps it
 * with the posting (src/ledger).
 */
export const MISMATCH_KINDS = ['missing_in_gateway', 'missing_at_acquirer', 'amount_mismatch'] as const;
export type MismatchKind = (typeof MISMATCH_KINDS)[number];

export interface Mismatch {
  kind: MismatchKind;
  idempotencyKey: string;
  merchantId: string;
  paymentId: string;
  currency: string;
  /** What the acquirer booked (absent if it booked nothing). */
  acquirerAmount?: number;
  acquirerRef?: string;
  /** What the ledger holds (absent if it holds nothing). */
  gatewayAmount?: number;
  gatewayTxnId?: string;
}

export interface ReconciliationResult {
  date: string;
  acquirerLines: number;
  gatewayLines: number;
  matched: number;
  mismatches: Mismatch[];
}

/** The money a posting moved at the acquirer: refunds are negative in the merchant's view, positive in the acquirer's report. */
function acquirerAmountOf(t: LedgerTransaction): number {
  return t.type === 'settlement' ? Number.NaN : Math.abs(t.amount);
}

/**
 * `report`: the acquirer's lines for `date`. `ours`: our postings of that day. `known`: our
 * postings for the report's keys wherever they fell (a movement booked just before midnight is
 * posted just after). `neighbourKeys`: the keys the acquirer booked on the day before (a posting
 * of ours after midnight for a movement it booked the day before is not missing).
 *
 * A settlement is matched on its key alone: the acquirer settles the capture whole, and the
 * ledger books that whole amount on its acquirer side (the merchant's side of a settlement is what
 * the payment left them, a different figure).
 */
export function reconcile(date: string, report: readonly SettlementReportLine[], ours: readonly LedgerTransaction[], known: readonly LedgerTransaction[], neighbourKeys: ReadonlySet<string>): ReconciliationResult {
  const byKey = new Map<string, LedgerTransaction>();
  for (const t of [...known, ...ours]) byKey.set(t.acquirerKey, t);
  const reported = new Set<string>();
  const mismatches: Mismatch[] = [];
  let matched = 0;
  for (const line of report) {
    reported.add(line.idempotencyKey);
    const paymentId = line.idempotencyKey.split(':')[0] ?? line.idempotencyKey;
    const t = byKey.get(line.idempotencyKey);
    const base = { idempotencyKey: line.idempotencyKey, merchantId: line.merchantId, paymentId, currency: line.currency, acquirerAmount: line.amount, acquirerRef: line.ref };
    if (!t) {
      mismatches.push({ kind: 'missing_in_gateway', ...base });
    } else if ((line.kind !== 'settlement' && acquirerAmountOf(t) !== line.amount) || t.currency !== line.currency) {
      mismatches.push({ kind: 'amount_mismatch', ...base, gatewayAmount: Math.abs(t.amount), gatewayTxnId: t.txnId });
    } else {
      matched++;
    }
  }
  for (const t of ours) {
    if (reported.has(t.acquirerKey) || neighbourKeys.has(t.acquirerKey)) continue;
    mismatches.push({ kind: 'missing_at_acquirer', idempotencyKey: t.acquirerKey, merchantId: t.merchantId, paymentId: t.paymentId, currency: t.currency, gatewayAmount: Math.abs(t.amount), gatewayTxnId: t.txnId });
  }
  return { date, acquirerLines: report.length, gatewayLines: ours.length, matched, mismatches };
}

/** [start, end) of a UTC day in epoch ms; undefined for a string that is not a real YYYY-MM-DD date. */
export function utcDay(date: string): { start: number; end: number } | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  const start = Date.parse(`${date}T00:00:00.000Z`);
  if (Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== date) return undefined;
  return { start, end: start + 86_400_000 };
}

export function previousUtcDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00.000Z`) - 86_400_000).toISOString().slice(0, 10);
}
