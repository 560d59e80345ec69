import type { SettlementReportLine } from '../../src/acquirer/acquirer-client';
import type { LedgerTransaction } from '../../src/ledger/merchant-ledger';
import { previousUtcDay, reconcile, utcDay } from '../../src/reconciliation/reconcile';

/** The matching rules of the daily reconciliation (src/reconciliation/reconcile.ts), on hand-made lines. */
const line = (key: string, kind: SettlementReportLine['kind'], amount: number, currency = 'EUR'): SettlementReportLine => ({
  ref: `ref_${key}`,
  kind,
  amount,
  currency,
  merchantId: 'm_a',
  idempotencyKey: key,
  createdAt: '2026-12-01T12:00:00.000Z',
});
const posting = (key: string, type: LedgerTransaction['type'], amount: number, currency = 'EUR'): LedgerTransaction => ({
  txnId: `txn_${key}`,
  merchantId: 'm_a',
  paymentId: key.split(':')[0]!,
  type,
  currency,
  amount,
  fee: 0,
  net: amount,
  acquirerKey: key,
  createdAt: Date.parse('2026-12-01T12:00:01.000Z'),
});

describe('reconcile', () => {
  it('matches by key and amount; refunds are negative on our side; a settlement matches on its key alone', () => {
    const report = [line('p1:capture', 'capture', 1000), line('p1:refund:r1', 'refund', 300), line('p1:settle', 'settlement', 1000)];
    const ours = [posting('p1:capture', 'charge', 1000), posting('p1:refund:r1', 'refund', -300), posting('p1:settle', 'settlement', 671)];
    expect(reconcile('2026-12-01', report, ours, ours, new Set())).toEqual({ date: '2026-12-01', acquirerLines: 3, gatewayLines: 3, matched: 3, mismatches: [] });
  });

  it('names each side missing, and an amount or a currency that differs', () => {
    const report = [line('p1:capture', 'capture', 1000), line('p2:capture', 'capture', 500), line('p3:capture', 'capture', 200, 'USD')];
    const ours = [posting('p1:capture', 'charge', 999), posting('p3:capture', 'charge', 200), posting('p4:capture', 'charge', 50)];
    const { mismatches, matched } = reconcile('2026-12-01', report, ours, ours, new Set());
    expect(matched).toBe(0);
    expect(mismatches.map((m) => [m.kind, m.idempotencyKey, m.acquirerAmount, m.gatewayAmount])).toEqual([
      ['amount_mismatch', 'p1:capture', 1000, 999],
      ['missing_in_gateway', 'p2:capture', 500, undefined],
      ['amount_mismatch', 'p3:capture', 200, 200],
      ['missing_at_acquirer', 'p4:capture', undefined, 50],
    ]);
  });

  it('across midnight: a movement booked the day before and posted after midnight is not missing, nor one posted the day after', () => {
    // Booked at 23:59:59 on the 30th, posted at 00:00:01 on the 1st: in the 30th's report.
    const lateOurs = [posting('p5:capture', 'charge', 100)];
    expect(reconcile('2026-12-01', [], lateOurs, [], new Set(['p5:capture'])).mismatches).toEqual([]);
    // Booked at 23:59:59 on the 1st, posted on the 2nd: found by key, not by the day of posting.
    expect(reconcile('2026-12-01', [line('p6:capture', 'capture', 100)], [], [posting('p6:capture', 'charge', 100)], new Set()).matched).toBe(1);
  });

  it('days are real UTC calendar days', () => {
    expect(utcDay('2026-12-01')).toEqual({ start: Date.parse('2026-12-01T00:00:00Z'), end: Date.parse('2026-12-02T00:00:00Z') });
    for (const bad of ['2026-02-30', '2026-13-01', '2026-1-1', '20261201', '2026-12-01T00:00:00Z', '']) expect(utcDay(bad)).toBeUndefined();
    expect(previousUtcDay('2026-03-01')).toBe('2026-02-28');
  });
});
