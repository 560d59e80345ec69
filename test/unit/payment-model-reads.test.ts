import { Answer, observe, PaymentModel, PaymentReal, Tally } from '../helpers/payment-model';

/**
 * The model test's rule that reads never go back in time, checked on its own: a request sent after
 * an answer showed a final status (or a succeeded refund) must show it too; an answer to a request
 * that overlapped that answer may show the payment as it was before.
 */
describe('payment model: reads never go back in time', () => {
  const model = (): PaymentModel => ({
    index: 0,
    plan: { card: 'visa', captureMethod: 'automatic', amount: 1000, commandsStart: 'after_answer', commands: [] },
    key: 'k',
    id: 'pay_1',
    created: true,
    acceptedCancel: false,
    workflowCanceled: false,
    refundKeys: [],
    refundsSeen: new Map(),
    trail: [],
  });
  const real = () => ({ tally: new Tally() }) as unknown as PaymentReal;
  const answer = (sentAt: number, receivedAt: number, body: object): Answer => ({ status: 200, body: { id: 'pay_1', ...body }, ms: receivedAt - sentAt, sentAt, receivedAt });
  const refund = (status: string) => ({ status: 'refunded', amount_captured: 1000, amount_refunded: 1000, refunds: [{ id: 're_1', amount: 1000, status }] });

  it('a request sent after a final status was shown and answering an earlier one is a violation', () => {
    const m = model();
    const r = real();
    observe(m, r, answer(0, 100, { status: 'canceled' }));
    observe(m, r, answer(150, 200, { status: 'processing' }));
    expect(r.tally.violations.map((v) => v.rule)).toEqual(['terminal_status_changed']);
  });

  it('an overlapping request answered later with the earlier state is counted, not a violation, and does not move the model', () => {
    const m = model();
    const r = real();
    observe(m, r, answer(0, 100, { status: 'canceled' }));
    observe(m, r, answer(50, 120, { status: 'processing' }));
    expect(r.tally.violations).toEqual([]);
    expect(r.tally.outOfOrderAnswers).toBe(1);
    expect(m.status).toBe('canceled');
  });

  it('a refund shown succeeded and later pending: a violation when asked after, counted when overlapping', () => {
    const m = model();
    const r = real();
    observe(m, r, answer(0, 100, refund('succeeded')));
    observe(m, r, answer(90, 130, refund('pending')));
    expect(r.tally.violations).toEqual([]);
    expect(r.tally.outOfOrderAnswers).toBe(1);
    observe(m, r, answer(140, 160, refund('pending')));
    expect(r.tally.violations.map((v) => v.rule)).toEqual(['refund_status_went_back']);
  });
});
