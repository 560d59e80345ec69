import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { paymentStateQuery, requestAnswerQuery, type Requested, type RequestOutcome } from '../../src/workflows/payment/definitions';
import type { PaymentState } from '../../src/workflows/payment/state';

/** A request the payment's lifecycle refused; `code` is its reason (lifecycle.ts). */
export class RequestRefused extends Error {
  constructor(readonly outcome: RequestOutcome) {
    super(`${outcome.kind} refused: ${outcome.code} (${outcome.message})`);
  }
  get code(): string | undefined {
    return this.outcome.code;
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What the API does with a request, straight on the workflow: signal it with an id, read its
 * answer back, and (when `until` is given) wait until the payment shows its outcome. Throws
 * RequestRefused when the lifecycle refuses it.
 */
export async function ask<A extends object>(
  handle: WorkflowHandle,
  signal: SignalDefinition<[A & Requested]>,
  request: A,
  until?: (state: PaymentState) => boolean,
  timeoutMs = 30_000,
): Promise<PaymentState> {
  const requestId = `test-${randomUUID()}`;
  await handle.signal(signal, { ...request, requestId });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { outcome, state } = await handle.query(requestAnswerQuery, requestId);
    if (outcome && !outcome.accepted) throw new RequestRefused(outcome);
    if (outcome && (!until || until(state))) return state;
    if (Date.now() > deadline) throw new Error(`request ${requestId} not answered within ${timeoutMs} ms (outcome ${JSON.stringify(outcome)}, status ${state.status})`);
    await pause(20);
  }
}

/** The payment once its authorization is decided (or it waits for review), as POST /v1/payments waits for it. */
export async function decided(handle: WorkflowHandle, timeoutMs = 30_000): Promise<PaymentState> {
  return settledOn(handle, (state) => state.status !== 'processing', timeoutMs);
}

/** Polls the payment until `ready` holds. */
export async function settledOn(handle: WorkflowHandle, ready: (state: PaymentState) => boolean, timeoutMs = 30_000): Promise<PaymentState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await handle.query(paymentStateQuery);
    if (ready(state)) return state;
    if (Date.now() > deadline) throw new Error(`payment ${handle.workflowId} still ${state.status} after ${timeoutMs} ms`);
    await pause(20);
  }
}
