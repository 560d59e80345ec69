import { PaymentRecords } from '../../src/records/payment-records';
import type { PaymentRecordWrite } from '../../src/records/record-write';
import type { PaymentState, Refund, TimelineEvent } from '../../src/workflows/payment/state';
import { paymentState } from '../helpers/payment-state';
import { postgresBackend, sqliteBackend, type Backend, type TestDatabase } from '../helpers/vault-backends';

/**
 * The payment records store (src/records/payment-records.ts) on both databases: writes apply once
 * and never take a record back, deltas rebuild the whole payment, listings filter and page newest
 * first, and the retention purge deletes only what is due.
 */
const backends: Backend[] = [sqliteBackend(), postgresBackend()];
afterAll(async () => {
  await Promise.all(backends.map((b) => b.stop()));
});

const DAY = 86_400_000;


const event = (n: number, name = `step.${n}`): TimelineEvent => ({ at: new Date(Date.parse('2026-12-01T10:00:00.000Z') + n * 1000).toISOString(), event: name });

/**
 * The write the workflow's record keeper would send as its `revision`-th, on top of write `base`:
 * the timeline entries from `eventsFrom`, the refunds given.
 */
function writeOf(state: PaymentState, w: { base: number; revision: number; eventsFrom: number; refunds?: Refund[]; final?: boolean }): PaymentRecordWrite {
  const { timeline, refunds, ...payment } = state;
  return {
    base: w.base,
    revision: w.revision,
    final: w.final ?? false,
    payment,
    refunds: (w.refunds ?? refunds).map((refund) => ({ position: refunds.findIndex((r) => r.id === refund.id), refund })),
    eventsFrom: w.eventsFrom,
    events: timeline.slice(w.eventsFrom),
  };
}

describe.each(backends.map((b) => [b.name, b] as const))('payment records on %s', (_name, backend) => {
  let database: TestDatabase;
  let records: PaymentRecords;
  beforeEach(async () => {
    database = await backend.create();
    records = new PaymentRecords(database.db, 30 * DAY);
  });
  afterEach(async () => {
    await database.close();
  });

  it('deltas build the whole payment; a retried or older write changes nothing; a write on the wrong base is a gap', async () => {
    const s = paymentState('pay_1', { timeline: [event(0, 'payment.created')] });
    expect(await records.write(writeOf(s, { base: 0, revision: 1, eventsFrom: 0 }))).toBe('applied');

    s.status = 'captured';
    s.amountCaptured = 1000;
    s.timeline.push(event(1, 'payment.captured'));
    const second = writeOf(s, { base: 1, revision: 2, eventsFrom: 1, refunds: [] });
    expect(await records.write(second)).toBe('applied');
    expect(await records.write(second)).toBe('stale'); // the activity retried after its answer was lost
    expect(await records.write(writeOf(paymentState('pay_1', { timeline: [event(0, 'payment.created')] }), { base: 0, revision: 1, eventsFrom: 0 }))).toBe('stale'); // late: older

    // A field set without a timeline entry of its own is a write too.
    s.refundableUntil = '2027-05-30T10:00:00.000Z';
    expect(await records.write(writeOf(s, { base: 2, revision: 3, eventsFrom: 2, refunds: [] }))).toBe('applied');

    s.refunds.push({ id: 're_1', amount: 300, status: 'pending', createdAt: event(2).at });
    s.timeline.push(event(2, 'refund.requested'));
    expect(await records.write(writeOf(s, { base: 3, revision: 4, eventsFrom: 2, refunds: [s.refunds[0]!] }))).toBe('applied');
    s.refunds.push({ id: 're_2', amount: 200, status: 'pending', createdAt: event(2).at });
    s.refunds[0]!.status = 'succeeded';
    s.amountRefunded = 300;
    s.status = 'partially_refunded';
    s.timeline.push(event(3, 'refund.succeeded'), event(4, 'payment.partially_refunded'));
    // A delta computed on top of write 4 applies; one that assumes write 5 landed is a gap (resent whole).
    expect(await records.write(writeOf(s, { base: 5, revision: 6, eventsFrom: 4, refunds: [] }))).toBe('gap');
    expect(await records.write(writeOf(s, { base: 4, revision: 5, eventsFrom: 3 }))).toBe('applied');

    expect(await records.get('pay_1')).toEqual({ state: s, final: false, revision: 5 });
    const history = await database.db.query<{ status: string | null }>('SELECT status FROM payment_history WHERE payment_id = $1 ORDER BY seq', ['pay_1']);
    expect(history.map((h) => h.status)).toEqual([null, 'captured', null, null, 'partially_refunded']);

    // The last write marks the record final; the same again is a retry.
    expect(await records.write(writeOf(s, { base: 5, revision: 6, eventsFrom: 5, final: true, refunds: [] }))).toBe('applied');
    expect(await records.write(writeOf(s, { base: 5, revision: 6, eventsFrom: 5, final: true, refunds: [] }))).toBe('stale');
    expect((await records.get('pay_1'))!.final).toBe(true);
  });

  it('a whole write (base 0) repairs a record that lacks what a delta assumed', async () => {
    const s = paymentState('pay_2', { timeline: [event(0), event(1), event(2)], status: 'declined', declineCode: 'generic_decline' });
    expect(await records.write(writeOf(s, { base: 2, revision: 3, eventsFrom: 2 }))).toBe('gap'); // nothing recorded yet
    expect(await records.write(writeOf(s, { base: 0, revision: 3, eventsFrom: 0 }))).toBe('applied');
    expect(await records.get('pay_2')).toEqual({ state: s, final: false, revision: 3 });
  });

  it('lists a merchant\'s payments newest first, filtered, with a keyset cursor', async () => {
    const make = async (id: string, over: Partial<PaymentState>) => records.write(writeOf(paymentState(id, { timeline: [event(0)], ...over }), { base: 0, revision: 1, eventsFrom: 0 }));
    await make('pay_a', { createdAt: '2026-12-01T10:00:00.000Z', amount: 500, status: 'captured' });
    await make('pay_b', { createdAt: '2026-12-01T11:00:00.000Z', amount: 1500, status: 'declined' });
    await make('pay_c', { createdAt: '2026-12-01T11:00:00.000Z', amount: 2500, status: 'captured', card: { brand: 'mastercard', last4: '4444', expMonth: 1, expYear: 2031 } });
    await make('pay_d', { createdAt: '2026-12-01T12:00:00.000Z', merchantId: 'm_b' });

    const ids = async (filters: Parameters<PaymentRecords['list']>[1], limit = 10) => (await records.list('m_a', filters, limit)).data.map((p) => p.id);
    // Newest first; equal times by id, descending.
    expect(await ids({})).toEqual(['pay_c', 'pay_b', 'pay_a']);
    expect(await ids({ status: 'captured' })).toEqual(['pay_c', 'pay_a']);
    expect(await ids({ amountGte: 1000, amountLte: 2000 })).toEqual(['pay_b']);
    expect(await ids({ last4: '4444' })).toEqual(['pay_c']);
    const t = (iso: string) => Date.parse(iso);
    expect(await ids({ createdGte: t('2026-12-01T11:00:00.000Z') })).toEqual(['pay_c', 'pay_b']);
    expect(await ids({ createdLt: t('2026-12-01T11:00:00.000Z') })).toEqual(['pay_a']);

    const first = await records.list('m_a', {}, 2);
    expect(first.data.map((p) => p.id)).toEqual(['pay_c', 'pay_b']);
    const second = await records.list('m_a', {}, 2, first.next);
    expect(second.data.map((p) => p.id)).toEqual(['pay_a']);
    expect(second.next).toBeUndefined();
    expect((await records.list('m_b', {}, 10)).data.map((p) => p.id)).toEqual(['pay_d']);
  });

  it('purges a closed payment\'s record once its retention has passed, and nothing else', async () => {
    const closedAt = Date.parse('2026-12-01T10:00:00.000Z');
    const closed = paymentState('pay_old', { timeline: [event(0, 'payment.declined')], status: 'declined' });
    const running = paymentState('pay_running', { timeline: [event(0, 'payment.captured')], status: 'captured' });
    await records.write(writeOf(closed, { base: 0, revision: 1, eventsFrom: 0, final: true }), closedAt);
    await records.write(writeOf(running, { base: 0, revision: 1, eventsFrom: 0 }), closedAt);
    expect(await records.purge(closedAt + 30 * DAY - 1)).toEqual([]);
    expect(await records.purge(closedAt + 30 * DAY)).toEqual(['pay_old']);
    expect(await records.get('pay_old')).toBeUndefined();
    expect(await database.db.query('SELECT * FROM payment_history WHERE payment_id = $1', ['pay_old'])).toEqual([]);
    expect(await records.get('pay_running')).toBeDefined();
  });
});
