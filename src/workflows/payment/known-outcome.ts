import { ActivityFailure, ApplicationFailure, proxySinks, sleep } from '@temporalio/workflow';
import type { Inquiry } from '../../acquirer/acquirer-client';
import type { MetricsSinks } from '../../observability/metrics';
import type { PaymentContext } from './context';
import type { AcquirerStep } from './state';

const { metrics } = proxySinks<MetricsSinks>();

/**
 * A money call ends in one of three ways (DESIGN.md §4a): done, refused, or unknown — the request
 * may have been processed and the answer lost, or answered after the client gave up. Running out
 * of retries never means "it did not happen". This turns an unknown outcome into a known one:
 * ask the acquirer by idempotency key, and either take the answer it holds or, if it never
 * received the call, send it again with the same key (or, for an authorization, let the caller
 * reverse it). While the acquirer does not answer, the payment waits and shows it.
 *
 * Callers run this in a non-cancellable scope: a money call is never abandoned half-way.
 */
export type KnownOutcome<T> =
  | { known: 'done'; result: T }
  | { known: 'refused'; code: string; message: string }
  /** Only with `resend: false`: the acquirer holds no answer; the caller decides (a reversal). */
  | { known: 'not_received'; lastError: string };

export interface MoneyCall<T> {
  step: AcquirerStep;
  /** Sends the call (an activity with bounded retries, the same idempotency key on each). */
  send(): Promise<T>;
  /** Asks the acquirer what it holds under that key (an activity retried until it answers). */
  inquire(): Promise<Inquiry<T>>;
  /**
   * Whether a failure of `send` is the acquirer's refusal (a final answer). Authorization says
   * never: a vault error on a retry does not prove an earlier attempt did not reach the acquirer.
   */
  isRefusal(failure: ApplicationFailure): boolean;
  /** When the acquirer never received the call: send it again (true) or hand back `not_received`. */
  resend: boolean;
}

/** Rounds of inquiry and resend, spaced out so a long outage does not fill the history. */
const RESEND_BACKOFF_MS = [0, 30_000, 2 * 60_000, 10 * 60_000];

export async function knownOutcome<T>(ctx: PaymentContext, call: MoneyCall<T>): Promise<KnownOutcome<T>> {
  for (let round = 0; ; round++) {
    if (round > 0) await sleep(RESEND_BACKOFF_MS[Math.min(round, RESEND_BACKOFF_MS.length - 1)]!);
    let lastError: string;
    try {
      const result = await call.send();
      if (round > 0) resolved(ctx, call.step, 'resent');
      else ctx.awaitAcquirer(undefined);
      return { known: 'done', result };
    } catch (err) {
      const failure = applicationFailureOf(err);
      if (failure && failure.nonRetryable && call.isRefusal(failure)) {
        if (round > 0) resolved(ctx, call.step, 'resent');
        else ctx.awaitAcquirer(undefined);
        return { known: 'refused', code: failure.type ?? 'acquirer_refused', message: failure.message };
      }
      lastError = messageOf(err);
    }

    ctx.awaitAcquirer(call.step);
    const inquiry = await call.inquire();
    if (inquiry.state === 'done') {
      resolved(ctx, call.step, 'inquired');
      return { known: 'done', result: inquiry.result };
    }
    if (inquiry.state === 'refused') {
      resolved(ctx, call.step, 'inquired');
      return { known: 'refused', code: inquiry.code, message: inquiry.message };
    }
    ctx.record(`${call.step}.not_received`, lastError);
    if (!call.resend) return { known: 'not_received', lastError };
  }
}

function resolved(ctx: PaymentContext, step: AcquirerStep, how: 'inquired' | 'resent'): void {
  ctx.awaitAcquirer(undefined);
  metrics.unknownOutcomeResolved(step, how);
}

/** The acquirer refuses for good with a non-retryable failure whose type is its code; anything else is not an answer. */
export function isAcquirerRefusal(failure: ApplicationFailure): boolean {
  return failure.type !== 'acquirer_unavailable';
}

function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

/** The reason a call failed, in words fit for the merchant (never card data: activities never carry any). */
export function messageOf(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
