import { temporal } from '@temporalio/proto';
import { requestRefundSignal } from '../../src/workflows/payment/definitions';
import type { PaymentState } from '../../src/workflows/payment/state';
import { createLifecycleEnv, DAY, type LifecycleEnv } from '../helpers/lifecycle-env';
import { ask, decided } from '../helpers/payment-requests';
import { sameJson } from '../helpers/same-json';
import { TEST_CARDS } from '../helpers/test-cards';

/**
 * The payment's record through a whole life on the time-skipping server, and the size of the
 * history that keeping it costs: a payment with 100 partial refunds (issue: history kept small).
 */
describe('payment records (time-skipping)', () => {
  let life: LifecycleEnv;
  beforeAll(async () => {
    life = await createLifecycleEnv();
  });
  afterAll(async () => {
    await life?.teardown();
  });

  it('100 partial refunds: the record is the payment at every refund and once closed, and the history stays far below the limits', async () => {
    await life.withWorkers(async () => {
      // 100 refunds is one path too long to commit as a replay history; the suite records shorter ones.
      const handle = await life.startPayment({ card: TEST_CARDS.visa, amount: 100_000, recordHistory: false });
      expect((await decided(handle)).status).toBe('captured');
      for (let i = 0; i < 100; i++) {
        const state = await ask(handle, requestRefundSignal, { refundId: `r${i}`, amount: 500 }, (s) => s.refunds.some((r) => r.id === `r${i}` && r.status !== 'pending'));
        expect(state.amountRefunded).toBe(500 * (i + 1));
        // Every tenth refund: the record catches up with the workflow (it is at most one write behind).
        if (i % 10 === 9) {
          const until = Date.now() + 10_000;
          let record = await life.records.get(handle.workflowId);
          while (!sameJson(record?.state, state) && Date.now() < until) {
            await new Promise((r) => setTimeout(r, 50));
            record = await life.records.get(handle.workflowId);
          }
          expect(record?.state).toEqual(state);
        }
      }
      await life.env.sleep(181 * DAY);
      const final = (await handle.result()) as PaymentState;
      expect(final).toMatchObject({ status: 'partially_refunded', amountRefunded: 50_000 });
      expect(await life.records.get(handle.workflowId)).toEqual({ state: final, final: true, revision: expect.any(Number) });

      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      const bytes = temporal.api.history.v1.History.encode(history).finish().length;
      const writes = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordPayment').length;
      console.log(`history of a payment with 100 partial refunds: ${events.length} events, ${(bytes / 1024).toFixed(0)} KiB, ${writes} record writes`);
      // Temporal warns at 10,240 events or 10 MiB and fails a workflow at 51,200 events or 50 MiB:
      // a tenth of the limit leaves room for ten times as many refunds.
      expect(events.length).toBeLessThan(5_120);
      expect(bytes).toBeLessThan(2 * 1024 * 1024);
    });
  }, 300_000);
});
