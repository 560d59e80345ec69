import { LedgerReader, MerchantLedger } from '../../src/ledger/merchant-ledger';
import { PaymentRecords } from '../../src/records/payment-records';
import type { PaymentRecordWrite } from '../../src/records/record-write';
import type { PaymentState, Refund } from '../../src/workflows/payment/state';
import { paymentState as basePaymentState } from '../helpers/payment-state';
import { postgresBackend, sqliteBackend, type Backend, type TestDatabase } from '../helpers/vault-backends';

/**
 * The merchant ledger (src/ledger/merchant-ledger.ts) on both databases, posted through the
 * payment records' writes as the records worker posts it: every transaction balances, a write
 * applied twice posts once, a full write after a gap posts only what is new, and the balance
 * moves from pending to available at settlement.
 */
const backends: Backend[] = [sqliteBackend(), postgresBackend()];
afterAll(async () => {
  await Promise.all(backends.map((b) => b.stop()));
});

const DAY = 86_400_000;
const FEE_BPS = 290;


/** The record keeper's writes, one revision after another (no timeline: the ledger does not read it). */
function writer(records: PaymentRecords) {
  let revision = 0;
  return async (state: PaymentState, refunds: Refund[] = state.refunds, base = revision) => {
    const { timeline: _t, refunds: all, ...payment } = state;
    const write: PaymentRecordWrite = {
      base,
      revision: ++revision,
      final: false,
      payment,
      refunds: refunds.map((refund) => ({ position: all.findIndex((r) => r.id === refund.id), refund })),
      eventsFrom: 0,
      events: [],
    };
    return { write, result: await records.write(write) };
  };
}

/** A EUR 100.00 payment: the fee of 2.90 % is a round 2.90. */
const paymentState = (id: string, over: Partial<PaymentState> = {}) => basePaymentState(id, { amount: 10_000, ...over });

const refund = (id: string, amount: number, status: Refund['status'] = 'succeeded'): Refund => ({ id, amount, status, createdAt: '2026-12-01T10:05:00.000Z' });

describe.each(backends.map((b) => [b.name, b] as const))('merchant ledger on %s', (_name, backend) => {
  let database: TestDatabase;
  let records: PaymentRecords;
  let reader: LedgerReader;
  beforeEach(async () => {
    database = await backend.create();
    records = new PaymentRecords(database.db, 30 * DAY, new MerchantLedger({ feeBps: FEE_BPS }));
    reader = new LedgerReader(database.db);
  });
  afterEach(async () => {
    await database.close();
  });

  const totals = async (merchantId?: string) => Object.fromEntries((await reader.accountTotals(merchantId)).map((t) => [`${t.account}:${t.currency}`, t.total]));
  const sumOf = (t: Record<string, number>) => Object.values(t).reduce((a, b) => a + b, 0);

  it('a capture posts the charge with the fee; refunds keep the fee; settlement makes the rest available; every transaction balances', async () => {
    const write = writer(records);
    const s = paymentState('pay_1');
    await write(s);
    expect(await reader.balance('m_a')).toEqual({ available: [], pending: [] });

    s.status = 'captured';
    s.amountCaptured = 10_000;
    await write(s);
    // 2.90 % of 100.00 is 2.90.
    expect(await totals()).toEqual({ 'acquirer_receivable:EUR': 10_000, 'merchant_pending:EUR': -9_710, 'fee_revenue:EUR': -290 });
    expect(await reader.balance('m_a')).toEqual({ available: [], pending: [{ currency: 'EUR', amount: 9_710 }] });

    s.refunds.push(refund('re_1', 1_000, 'pending'));
    await write(s, [s.refunds[0]!]);
    expect(sumOf(await totals())).toBe(0);
    expect((await reader.transactions('m_a', {}, 10)).data.map((t) => t.type)).toEqual(['charge']); // a pending refund moves nothing

    s.refunds[0]!.status = 'succeeded';
    s.amountRefunded = 1_000;
    s.status = 'partially_refunded';
    await write(s, [s.refunds[0]!]);
    expect(await reader.balance('m_a')).toEqual({ available: [], pending: [{ currency: 'EUR', amount: 8_710 }] });

    s.settledAt = '2026-12-01T22:00:00.000Z';
    await write(s, []);
    expect(await reader.balance('m_a')).toEqual({ available: [{ currency: 'EUR', amount: 8_710 }], pending: [{ currency: 'EUR', amount: 0 }] });
    // The acquirer settled the capture whole and paid the refund: it owes us nothing, we hold 100.00 and owe it 10.00.
    expect(await totals()).toMatchObject({ 'acquirer_receivable:EUR': -1_000, 'settlement_cash:EUR': 10_000, 'merchant_available:EUR': -8_710, 'fee_revenue:EUR': -290 });

    // A refund after settlement comes out of the available balance.
    s.refunds.push(refund('re_2', 500));
    s.amountRefunded = 1_500;
    await write(s, [s.refunds[1]!]);
    expect(await reader.balance('m_a')).toEqual({ available: [{ currency: 'EUR', amount: 8_210 }], pending: [{ currency: 'EUR', amount: 0 }] });

    const listed = (await reader.transactions('m_a', {}, 10)).data;
    expect(listed.map((t) => [t.type, t.amount, t.fee, t.net, t.acquirerKey])).toEqual(
      expect.arrayContaining([
        ['charge', 10_000, 290, 9_710, 'pay_1:capture'],
        ['refund', -1_000, 0, -1_000, 'pay_1:refund:re_1'],
        ['settlement', 8_710, 0, 8_710, 'pay_1:settle'],
        ['refund', -500, 0, -500, 'pay_1:refund:re_2'],
      ]),
    );
    expect(listed).toHaveLength(4);
    expect(sumOf(await totals('m_a'))).toBe(0);
  });

  it('a reversal returns the money and the fee: nothing is owed either way', async () => {
    const write = writer(records);
    const s = paymentState('pay_2', { status: 'captured', amountCaptured: 10_000 });
    await write(s);
    s.refunds.push(refund('reversal', 10_000));
    s.amountRefunded = 10_000;
    s.status = 'reversed';
    await write(s, [s.refunds[0]!]);
    expect(await totals()).toEqual({ 'acquirer_receivable:EUR': 0, 'merchant_pending:EUR': 0, 'fee_revenue:EUR': 0 });
    const [reversal] = (await reader.transactions('m_a', { type: 'payment_reversal' }, 10)).data;
    expect(reversal).toMatchObject({ amount: -10_000, fee: -290, net: -9_710, acquirerKey: 'pay_2:refund:reversal' });
  });

  it('a write retried, late, or resent whole after a gap posts nothing twice', async () => {
    const write = writer(records);
    const s = paymentState('pay_3', { status: 'captured', amountCaptured: 2_000, refunds: [refund('re_1', 300)], amountRefunded: 300 });
    const { write: first } = await write(s);
    expect(await records.write(first)).toBe('stale');
    // The record was replaced under the keeper (say, restored from a backup): it resends the whole payment.
    const { result } = await write(s, s.refunds, 0);
    expect(result).toBe('applied');
    expect((await reader.transactions('m_a', {}, 10)).data.map((t) => t.type).sort()).toEqual(['charge', 'refund']);
    expect(sumOf(await totals())).toBe(0);
  });

  it('balances are per merchant and currency; listings page newest first with a cursor and filter by type and payment', async () => {
    for (const [i, merchantId, currency] of [[1, 'm_a', 'EUR'], [2, 'm_a', 'USD'], [3, 'm_b', 'EUR']] as const) {
      const write = writer(records);
      await write(paymentState(`pay_m${i}`, { merchantId, currency, status: 'captured', amountCaptured: 1_000 * i }));
    }
    expect(await reader.balance('m_a')).toEqual({ available: [], pending: [{ currency: 'EUR', amount: 971 }, { currency: 'USD', amount: 1_942 }] });
    expect(await reader.balance('m_b')).toEqual({ available: [], pending: [{ currency: 'EUR', amount: 2_913 }] });
    for (const m of ['m_a', 'm_b']) expect(sumOf(await totals(m))).toBe(0);

    const first = await reader.transactions('m_a', {}, 1);
    expect(first.data).toHaveLength(1);
    const second = await reader.transactions('m_a', {}, 1, first.next);
    expect(second.data).toHaveLength(1);
    expect(second.next).toBeUndefined();
    expect(new Set([...first.data, ...second.data].map((t) => t.paymentId))).toEqual(new Set(['pay_m1', 'pay_m2']));
    expect((await reader.transactions('m_a', { paymentId: 'pay_m2' }, 10)).data.map((t) => t.currency)).toEqual(['USD']);
    expect((await reader.transactions('m_a', { type: 'refund' }, 10)).data).toEqual([]);
  });

  it('the fee rounds half up and is never more than the amount', () => {
    const ledger = new MerchantLedger({ feeBps: 290 });
    expect([1, 17, 18, 100, 1999].map((a) => ledger.feeOn(a))).toEqual([0, 0, 1, 3, 58]);
    expect(new MerchantLedger({ feeBps: 10_000 }).feeOn(7)).toBe(7);
    expect(() => new MerchantLedger({ feeBps: 10_001 })).toThrow(/bps/);
  });
});
