import { proxySinks, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { MetricsSinks } from '../../observability/metrics';
import { SA } from '../../temporal/search-attribute-keys';
import { assertTransition, type PaymentStatus } from './lifecycle';
import type { AcquirerStep, PaymentInput, PaymentState } from './state';

const { metrics } = proxySinks<MetricsSinks>();

/** Statuses `payments_final_total` counts (see OUTCOME_STATUSES in the metrics module). */
const OUTCOMES: readonly PaymentStatus[] = ['declined', 'canceled', 'failed', 'reversed', 'settled', 'refunded', 'partially_refunded'];

/** The acquirer's references of this payment's money, as they become known. */
export interface AcquirerRefs {
  token?: string;
  bin?: string;
  authorization?: string;
  capture?: string;
}

/**
 * One payment as the workflow runs it: its state (what the query shows), the acquirer references,
 * and the bookkeeping every step shares — the timeline, status transitions through the lifecycle
 * (./lifecycle.ts), and showing that the payment waits for the acquirer.
 */
export interface PaymentContext {
  input: PaymentInput;
  state: PaymentState;
  refs: AcquirerRefs;
  now(): string;
  record(event: string, detail?: string): void;
  /** Moves to `status` if the lifecycle allows it (throws otherwise: a bug, not a decision). */
  setStatus(status: PaymentStatus, detail?: string): void;
  /** Shows (step) or clears (undefined) that the payment waits for the acquirer's answer. */
  awaitAcquirer(step: AcquirerStep | undefined): void;
}

export function createPaymentContext(input: PaymentInput): PaymentContext {
  const now = () => new Date(Date.now()).toISOString();
  const state: PaymentState = {
    id: input.paymentId,
    merchantId: input.merchantId,
    status: 'processing',
    amount: input.amount,
    currency: input.currency,
    captureMethod: input.captureMethod,
    ...(input.description !== undefined ? { description: input.description } : {}),
    metadata: input.metadata ?? {},
    amountCapturable: 0,
    amountCaptured: 0,
    amountRefunded: 0,
    card: { ...input.cardSummary },
    refunds: [],
    createdAt: now(),
    requestHash: input.requestHash,
    timeline: [],
  };
  const record = (event: string, detail?: string) => state.timeline.push({ at: now(), event, ...(detail ? { detail } : {}) });
  return {
    input,
    state,
    refs: {},
    now,
    record,
    setStatus(status, detail) {
      assertTransition(state.status, status);
      const changed = state.status !== status;
      state.status = status;
      record(`payment.${status}`, detail);
      upsertSearchAttributes([{ key: SA.status, value: status }]);
      // Leaves the sandbox through a sink: no history event, not called again on replay.
      if (changed && OUTCOMES.includes(status)) metrics.paymentFinished(status);
    },
    awaitAcquirer(step) {
      if (step === state.awaitingAcquirer?.step) return;
      if (step === undefined) {
        record('acquirer.answered', state.awaitingAcquirer!.step);
        delete state.awaitingAcquirer;
        upsertSearchAttributes([{ key: SA.awaitingAcquirer, value: null }]);
        setCurrentDetails('');
        return;
      }
      state.awaitingAcquirer = { step, since: now() };
      record('acquirer.awaited', `${step}: outcome unknown, asking the acquirer`);
      upsertSearchAttributes([{ key: SA.awaitingAcquirer, value: step }]);
      // The Web UI shows this on the workflow's page.
      setCurrentDetails(`Waiting for the acquirer: the outcome of **${step}** is unknown since ${state.awaitingAcquirer.since}; the payment decides nothing until it is known.`);
      metrics.acquirerWaitStarted(step);
    },
  };
}
