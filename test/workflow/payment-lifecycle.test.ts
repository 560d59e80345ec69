import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import {
  authorizationDecidedUpdate,
  captureUpdate,
  paymentStateQuery,
  requestCaptureSignal,
  requestRefundSignal,
  requestReviewSignal,
} from '../../src/workflows/payment/definitions';
import type { PaymentState } from '../../src/workflows/payment/state';
import { createLifecycleEnv, DAY, type LifecycleEnv } from '../helpers/lifecycle-env';
import { ask, decided as decisionOf } from '../helpers/payment-requests';
import { TEST_CARDS } from '../helpers/test-cards';
import { LedgerReader } from '../../src/ledger/merchant-ledger';
import { ledgerAgainstAcquirer } from '../helpers/merchant-ledger-audit';

/**
 * The payment lifecycle's timers and compensations on Temporal's time-skipping server: days pass
 * in milliseconds, everything else (vault, fraud rules, acquirer sandbox) is real.
 */
describe('payment lifecycle (time-skipping)', () => {
  let life: LifecycleEnv;
  beforeAll(async () => {
    life = await createLifecycleEnv();
  });
  afterAll(async () => {
    await life?.teardown();
  });

  const movements = (paymentId: string) =>
    life
      .ledger()
      .filter((e) => e.idempotency_key.startsWith(`${paymentId}:`))
      .map((e) => `${e.kind}:${e.status}`);
  /** The patch ids a payment's history carries (core's `core_patch` markers, their JSON `patch-data`). */
  const patchMarkers = async (handle: WorkflowHandle) =>
    ((await handle.fetchHistory()).events ?? []).flatMap((e) => {
      const details = e.markerRecordedEventAttributes?.details;
      const data = details?.['patch-data']?.payloads?.[0]?.data;
      return data ? [(JSON.parse(Buffer.from(data).toString()) as { id: string }).id] : [];
    });
  const cvvRows = async () => Number((await life.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM cvv_records'))[0]!.n);

  it('automatic capture: authorized, captured, settled at the cutoff, then refundable until the window closes', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.visa });
      const decided = await decisionOf(handle);
      expect(decided.status).toBe('captured');
      expect(await cvvRows()).toBe(0); // the CVV is gone once authorization is over
      // Destroyed by the vault with the authorization's answer: no purge activity on the way to the answer.
      expect(decided.timeline).toContainEqual(expect.objectContaining({ event: 'cvv.purged', detail: 'with the authorization' }));
      const activities = (await handle.fetchHistory()).events!.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
      // A sale: authorized and captured in the one acquirer call, no capture activity.
      expect(activities.filter((a) => a !== 'recordPayment')).toEqual(['tokenize', 'checkFraud', 'authorize']);
      expect(await patchMarkers(handle)).toContain('sale-v1');

      // Settlement waits for the cutoff; a partial refund can come before it.
      const refunded = await ask(handle, requestRefundSignal, { refundId: 'r1', amount: 500 }, (s) => s.refunds.some((r) => r.id === 'r1' && r.status !== 'pending'));
      expect(refunded).toMatchObject({ status: 'partially_refunded', amountRefunded: 500 });
      const beforeCutoff = (await handle.query(paymentStateQuery)) as PaymentState;
      expect(beforeCutoff.settledAt).toBeUndefined();

      await life.env.sleep(DAY + 60_000); // past the next 22:00 UTC cutoff, wherever "now" is
      const settled = (await handle.query(paymentStateQuery)) as PaymentState;
      expect(settled.settledAt).toBeDefined();
      expect(settled.timeline.map((t) => t.event)).toContain('settlement.succeeded'); // partially refunded: settled, the status stays

      // The refund window closes 180 days after the payment; the workflow then completes and refunds are refused.
      const final = (await handle.result()) as PaymentState;
      expect(final.refundableUntil).toBeDefined();
      await expect(ask(handle, requestRefundSignal, { refundId: 'r2', amount: 100 })).rejects.toThrow();
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'capture:succeeded', 'refund:succeeded', 'settlement:succeeded']);
    });
  });

  it('automatic capture through an acquirer connector without sales (ACQUIRER_SALE=false): authorize, then a capture call', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.visa, policy: { automaticCaptureAsSale: false } });
      const decided = await decisionOf(handle);
      expect(decided).toMatchObject({ status: 'captured', amountCaptured: 1999 });
      const activities = (await handle.fetchHistory()).events!.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
      expect(activities.filter((a) => a !== 'recordPayment')).toEqual(['tokenize', 'checkFraud', 'authorize', 'capturePayment']);
      // Payments that never ask for a sale record no marker: their histories are those of before.
      expect(await patchMarkers(handle)).not.toContain('sale-v1');
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'capture:succeeded']);
      await life.terminateAtRest(handle);
    });
  });

  it('refunds beyond the captured amount are refused and change nothing', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.mastercard, amount: 1000 });
      await decisionOf(handle);
      await expect(ask(handle, requestRefundSignal, { refundId: 'big', amount: 1001 })).rejects.toMatchObject({ code: 'amount_exceeds_refundable' });
      const state = (await handle.query(paymentStateQuery)) as PaymentState;
      expect(state).toMatchObject({ status: 'captured', amountRefunded: 0, refunds: [] });
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'capture:succeeded']);
      await life.terminateAtRest(handle);
    });
  });

  it('manual capture: the authorization expires after 7 days and is voided', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.visa, captureMethod: 'manual' });
      const decided = await decisionOf(handle);
      expect(decided.status).toBe('requires_capture');
      expect(Date.parse(decided.captureBefore!) - Date.parse(decided.createdAt)).toBeGreaterThanOrEqual(7 * DAY - 60_000);
      const final = (await handle.result()) as PaymentState;
      expect(final.status).toBe('canceled');
      expect(final.timeline.at(-1)).toMatchObject({ event: 'payment.canceled', detail: 'authorization_expired' });
      expect(Date.parse(final.timeline.at(-1)!.at) - Date.parse(final.createdAt)).toBeGreaterThanOrEqual(7 * DAY);
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'void:succeeded']);
    });
  });

  it('manual capture before expiry captures the requested amount; a second capture is refused', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.amex, amount: 5000, captureMethod: 'manual' });
      await decisionOf(handle);
      await life.env.sleep(3 * DAY);
      await expect(ask(handle, requestCaptureSignal, { amount: 5001 })).rejects.toMatchObject({ code: 'amount_exceeds_capturable' });
      const captured = await ask(handle, requestCaptureSignal, { amount: 4000 }, (s) => s.status !== 'requires_capture');
      expect(captured).toMatchObject({ status: 'captured', amountCaptured: 4000 });
      await expect(ask(handle, requestCaptureSignal, {})).rejects.toMatchObject({ code: 'payment_not_capturable' });
      await life.terminateAtRest(handle);
    });
  });

  it("the first release's updates still work for payments it started (same lifecycle rules)", async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.visa, amount: 3000, captureMethod: 'manual' });
      expect(((await handle.executeUpdate(authorizationDecidedUpdate)) as PaymentState).status).toBe('requires_capture');
      await expect(handle.executeUpdate(captureUpdate, { args: [{ amount: 3001 }] })).rejects.toMatchObject({ cause: { type: 'amount_exceeds_capturable' } });
      const captured = (await handle.executeUpdate(captureUpdate, { args: [{ amount: 2000 }] })) as PaymentState;
      expect(captured).toMatchObject({ status: 'captured', amountCaptured: 2000 });
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'capture:succeeded']);
      // Left running (it settles when a later test skips time): terminating a workflow that took
      // updates leaves the time-skipping test server's clock locked for the tests after it.
    });
  });

  it('a fraud review that nobody decides declines at its deadline', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.fraudReview });
      const decided = await decisionOf(handle);
      expect(decided.status).toBe('requires_review');
      const final = (await handle.result()) as PaymentState;
      expect(final).toMatchObject({ status: 'declined', declineCode: 'fraud_review_expired' });
      expect(movements(handle.workflowId)).toEqual([]); // never reached the acquirer
    });
  });

  it('an approved review goes on to authorize and capture', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.fraudReview });
      await decisionOf(handle);
      const reviewed = await ask(handle, requestReviewSignal, { decision: 'approve', actor: 'operator:alice' }, (s) => s.status !== 'requires_review');
      expect(reviewed.status).not.toBe('requires_review');
      // Wait until the approved payment went through authorization and capture.
      let state = (await handle.query(paymentStateQuery)) as PaymentState;
      for (let i = 0; i < 100 && state.status === 'processing'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = (await handle.query(paymentStateQuery)) as PaymentState;
      }
      expect(state.fraud).toMatchObject({ decision: 'review', reviewedBy: 'operator:alice' });
      expect(state.status).toBe('captured');
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'capture:succeeded']);
      await life.terminateAtRest(handle);
    });
  });

  it('a review approved at 23 h still authorizes: the CVV is kept until the deadline, then destroyed by the purge', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.fraudReview });
      await decisionOf(handle);
      // The vault kept the CVV past the intake TTL (30 min), up to the review deadline.
      const [row] = await life.db.query<{ expires_at: number }>('SELECT expires_at FROM cvv_records ORDER BY expires_at DESC LIMIT 1');
      expect(Number(row!.expires_at)).toBeGreaterThan(Date.now() + 23 * 60 * 60_000);
      await life.env.sleep(23 * 60 * 60_000);
      await ask(handle, requestReviewSignal, { decision: 'approve', actor: 'operator:bob' });
      let state = (await handle.query(paymentStateQuery)) as PaymentState;
      for (let i = 0; i < 100 && state.status === 'processing'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = (await handle.query(paymentStateQuery)) as PaymentState;
      }
      expect(state.status).toBe('captured');
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'capture:succeeded']);
      expect(await cvvRows()).toBe(0);
      await life.terminateAtRest(handle);
    });
  });

  it('capture failing for good voids the authorization (compensation)', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.captureFails });
      const final = await decisionOf(handle);
      expect(final).toMatchObject({ status: 'failed', failure: { code: 'capture_failed' } });
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'void:succeeded']);
    });
  });

  it('settlement failing for good refunds the capture (compensation)', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.settlementFails });
      const final = (await handle.result()) as PaymentState;
      expect(final).toMatchObject({ status: 'reversed', amountRefunded: final.amountCaptured, failure: { code: 'settlement_failed' } });
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'capture:succeeded', 'refund:succeeded']);
    });
  });

  it('cancelling the workflow runs the compensations: an uncaptured authorization is voided', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.discover, captureMethod: 'manual' });
      await decisionOf(handle);
      await handle.cancel();
      const error = await handle.result().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'void:succeeded']);
    });
  });

  it('cancelling the workflow after capture, before settlement, refunds the capture', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.visa, amount: 2500 });
      await decisionOf(handle);
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      expect(movements(handle.workflowId)).toEqual(['authorization:approved', 'capture:succeeded', 'refund:succeeded']);
    });
  });

  it('a vault worker restart during a review: its CVV epoch key is gone, the approved payment fails (cvv_unavailable) and nothing moves', async () => {
    await life.withWorkers(async () => {
      const handle = await life.startPayment({ card: TEST_CARDS.fraudReview });
      expect((await decisionOf(handle)).status).toBe('requires_review');
      // What a restart does to the vault worker's memory: the epoch keys are gone; the new process makes a new epoch.
      await life.vault.cvvEpochs.dropAll();
      await life.vault.maintainCvvEpochs();
      await ask(handle, requestReviewSignal, { decision: 'approve', actor: 'operator:carol' });
      const final = (await handle.result()) as PaymentState;
      expect(final.status).toBe('failed');
      expect(JSON.stringify(final)).toContain('cvv_unavailable');
      // Nothing reached the acquirer (no authorization, no hold), and the CVV's rows are purged.
      expect(movements(handle.workflowId).filter((m) => m.startsWith('authorization:approved'))).toEqual([]);
      expect(Number((await life.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'card.detokenize' AND payment_id = $1", [handle.workflowId]))[0]!.n)).toBe(0);
    });
  });

  it('declines are final and never retried; the CVV is destroyed for declined authorizations too', async () => {
    await life.withWorkers(async () => {
      const cvvsBefore = await cvvRows();
      for (const [card, code] of [
        [TEST_CARDS.declinedGeneric, 'generic_decline'],
        [TEST_CARDS.declinedInsufficientFunds, 'insufficient_funds'],
        [TEST_CARDS.declinedIncorrectCvc, 'incorrect_cvc'],
        [TEST_CARDS.declinedExpired, 'expired_card'],
      ] as const) {
        const handle = await life.startPayment({ card });
        const final = (await handle.result()) as PaymentState;
        expect(final).toMatchObject({ status: 'declined', declineCode: code });
        expect(movements(handle.workflowId)).toEqual(['authorization:declined']);
      }
      expect(await cvvRows()).toBe(cvvsBefore);
    });
  });

  it('last: the merchant ledger agrees with the acquirer\'s books, movement by movement, for every payment above', async () => {
    const reader = new LedgerReader(life.db);
    const rows = life.ledger();
    const ids = new Set(rows.map((r) => r.idempotency_key.split(':')[0]!));
    expect(ids.size).toBeGreaterThanOrEqual(10);
    const differences: string[] = [];
    for (const id of ids) {
      // A write lands shortly after the movement it shows: at rest the ledger must have caught up.
      let found: string[] = [];
      for (let i = 0; i < 50; i++) {
        found = await ledgerAgainstAcquirer(reader, id, rows.filter((r) => r.idempotency_key.startsWith(`${id}:`)));
        if (found.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      differences.push(...found.map((d) => `${id}: ${d}`));
    }
    expect(differences).toEqual([]);
    const byCurrency = new Map<string, number>();
    for (const t of await reader.accountTotals()) byCurrency.set(t.currency, (byCurrency.get(t.currency) ?? 0) + t.total);
    expect([...byCurrency.values()].every((v) => v === 0)).toBe(true);
  });
});
