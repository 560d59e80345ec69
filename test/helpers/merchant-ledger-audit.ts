import type { LedgerEntry } from '../../src/acquirer/sandbox/ledger';
import type { LedgerReader } from '../../src/ledger/merchant-ledger';

/**
 * One payment's postings in the merchant ledger (src/ledger) against the acquirer's books (the
 * sandbox ledger's rows of that payment): the same movements line by line (matched on the
 * acquirer's idempotency key), the acquirer's side of the ledger equal to what the acquirer
 * moved, and every entry balanced. Returns the differences, in words; none when they agree.
 */
export async function ledgerAgainstAcquirer(ledger: LedgerReader, paymentId: string, acquirerRows: readonly LedgerEntry[]): Promise<string[]> {
  const { transactions, totals } = await ledger.ofPayment(paymentId);
  const problems: string[] = [];
  const moved = acquirerRows.filter((r) => r.status === 'succeeded' && ['capture', 'refund', 'settlement'].includes(r.kind));
  const ours = new Map(transactions.map((t) => [t.acquirerKey, t]));
  const theirs = new Map(moved.map((r) => [r.idempotency_key, r]));
  for (const [key, row] of theirs) {
    const t = ours.get(key);
    if (!t) problems.push(`the acquirer's ${row.kind} ${key} (${row.amount}) is not in the ledger`);
    else if (row.kind !== 'settlement' && Math.abs(t.amount) !== row.amount) problems.push(`${key}: the ledger has ${Math.abs(t.amount)}, the acquirer ${row.amount}`);
  }
  for (const [key, t] of ours) if (!theirs.has(key)) problems.push(`the ledger's ${t.type} ${key} (${t.amount}) is not in the acquirer's books`);
  const sum = (kind: string) => moved.filter((r) => r.kind === kind).reduce((s, r) => s + r.amount, 0);
  const receivable = sum('capture') - sum('refund') - sum('settlement');
  if ((totals.acquirer_receivable ?? 0) !== receivable) problems.push(`acquirer receivable ${totals.acquirer_receivable ?? 0}, the acquirer's books say ${receivable}`);
  if ((totals.settlement_cash ?? 0) !== sum('settlement')) problems.push(`settlement cash ${totals.settlement_cash ?? 0}, the acquirer settled ${sum('settlement')}`);
  const balance = Object.values(totals).reduce((s, v) => s + (v ?? 0), 0);
  if (balance !== 0) problems.push(`the payment's entries sum to ${balance}, not 0`);
  return problems;
}
