import { CancellationScope, isCancellation, patched, proxySinks } from '@temporalio/workflow';
import { PATCHES } from './patches';
import type { MovementResult } from '../../acquirer/acquirer-client';
import type { VaultAuthorizationResult } from '../../activities/vault';
import type { FraudCheckResult } from '../../activities/fraud';
import type { MetricsSinks } from '../../observability/metrics';
import { cvv, fraud, inquiry, money, vault, vaultAuthorization } from './activities';
import type { PaymentContext } from './context';
import { isAcquirerRefusal, knownOutcome, messageOf } from './known-outcome';

/**
 * The steps of a payment (DESIGN.md §4), one small function each, and the compensations beside
 * the step they undo. Money steps run in non-cancellable scopes and end with a known outcome
 * (./known-outcome.ts): a cancellation waits for the call, then compensation acts on what is known.
 */

const { metrics } = proxySinks<MetricsSinks>();

export type StepFailure = { ok: false; code: string; message: string };

// ---- tokenize ---------------------------------------------------------------------------------

export async function tokenize(ctx: PaymentContext): Promise<{ ok: true } | StepFailure> {
  const { input } = ctx;
  // A stored card (a payment method) was tokenized when it was created: its token is the input.
  // Only payments started with one take this branch; the patch marks them in their history.
  if (input.storedCard && patched(PATCHES.storedCards)) {
    useCard(ctx, input.storedCard);
    ctx.record('card.stored', input.cvvRef ? 'with its CVC' : 'stored credential, no CVC');
    return { ok: true };
  }
  if (!input.intakeRef) return { ok: false, code: 'tokenization_failed', message: 'The payment has neither a sealed card nor a stored one' };
  try {
    useCard(ctx, await vault.tokenize({ intakeRef: input.intakeRef, merchantId: input.merchantId, paymentId: input.paymentId }));
    ctx.record('card.tokenized');
    return { ok: true };
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { ok: false, code: 'tokenization_failed', message: messageOf(err) };
  }
}

/** The vault's card (token and public metadata) becomes the payment's. */
function useCard(ctx: PaymentContext, card: { token: string; bin: string; brand: string; last4: string; fingerprint: string; issuingCountry?: string }): void {
  const { input, state, refs } = ctx;
  refs.token = card.token;
  refs.bin = card.bin;
  state.card = {
    brand: card.brand,
    last4: card.last4,
    // This payment's expiry, not the shared card row's (another merchant may have sent a newer one).
    expMonth: input.cardSummary.expMonth,
    expYear: input.cardSummary.expYear,
    fingerprint: card.fingerprint,
    ...(card.issuingCountry ? { issuingCountry: card.issuingCountry } : {}),
  };
}

// ---- fraud check --------------------------------------------------------------------------------

export async function checkFraud(ctx: PaymentContext): Promise<{ ok: true; decision: FraudCheckResult } | StepFailure> {
  const { input, state, refs } = ctx;
  try {
    const decision = await fraud.checkFraud({
      paymentId: input.paymentId,
      merchantId: input.merchantId,
      amount: input.amount,
      currency: input.currency,
      card: { fingerprint: state.card.fingerprint!, bin: refs.bin!, last4: state.card.last4, brand: state.card.brand, issuingCountry: state.card.issuingCountry },
      // The fraud worker's card key derives from it (src/fraud/card-key.ts); only an input, no new command.
      ...(refs.token ? { cardToken: refs.token } : {}),
    });
    state.fraud = {
      decision: decision.decision,
      reasons: decision.reasons,
      // Results recorded before the model carry no score: their replays set none.
      ...(decision.score !== undefined ? { score: decision.score, modelVersion: decision.modelVersion, ...scoredAtOf(decision.scoredAt as string | number | undefined) } : {}),
      ...(decision.explanations?.length ? { explanations: decision.explanations } : {}),
    };
    ctx.record(`fraud.${decision.decision}`, decision.reasons.map((r) => r.rule).join(', ') || undefined);
    return { ok: true, decision };
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { ok: false, code: 'fraud_check_failed', message: messageOf(err) };
  }
}

/** ISO time; results recorded before it was one carry epoch ms (a 13-digit run a payload scan would take for a card number). */
function scoredAtOf(at: string | number | undefined): { scoredAt?: string } {
  if (at === undefined) return {};
  return { scoredAt: typeof at === 'number' ? new Date(at).toISOString() : at };
}

/** A payment in review may authorize up to its deadline: its CVV must outlive the intake TTL until then. */
export async function retainCvvUntil(ctx: PaymentContext, until: number): Promise<void> {
  const { input } = ctx;
  // A stored credential has no CVV to keep.
  if (!input.cvvRef) return;
  try {
    // A margin past the deadline, so the review's own timer (not the TTL) decides; the purge follows either way.
    await vault.retainCvv({ cvvRef: input.cvvRef, until: new Date(until + 5 * 60_000).toISOString(), merchantId: input.merchantId, paymentId: input.paymentId });
    ctx.record('cvv.retained', new Date(until).toISOString());
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The CVV is gone already: the authorization will say so, and the payment fails then.
    ctx.record('cvv.retain_failed', messageOf(err));
  }
}

// ---- authorize (card data proxied to the acquirer by the vault), then destroy the CVV -------------

export type AuthorizationOutcome = { ok: true; result: VaultAuthorizationResult } | StepFailure;

/** `sale`: capture the whole amount in the same acquirer call (the result then says whether it did). */
export function authorize(ctx: PaymentContext, { sale }: { sale: boolean }): Promise<AuthorizationOutcome> {
  const { input, refs, state } = ctx;
  return CancellationScope.nonCancellable(async () => {
    const outcome = await knownOutcome(ctx, {
      step: 'authorize',
      send: () =>
        vaultAuthorization.authorize({
          token: refs.token!,
          ...(input.cvvRef ? { cvvRef: input.cvvRef } : {}),
          expMonth: state.card.expMonth,
          expYear: state.card.expYear,
          amount: input.amount,
          currency: input.currency,
          merchantId: input.merchantId,
          paymentId: input.paymentId,
          ...(sale ? { sale: true as const } : {}),
        }),
      inquire: () => inquiry.inquireAuthorization({ paymentId: input.paymentId }),
      isRefusal: () => false,
      resend: false,
    });
    if (outcome.known === 'done') return { ok: true, result: outcome.result } as const;
    if (outcome.known === 'refused') return { ok: false, code: 'authorization_failed', message: `The acquirer refused the authorization (${outcome.code}): ${outcome.message}` };
    return reverseAuthorization(ctx, outcome.lastError);
  });
}

/**
 * The timeout reversal: the acquirer holds no answer to our authorization, so it is reversed by
 * its key — voided if it arrived meanwhile, refused if it arrives later. No hold is left behind.
 */
async function reverseAuthorization(ctx: PaymentContext, lastError: string): Promise<AuthorizationOutcome> {
  const { paymentId } = ctx.input;
  ctx.awaitAcquirer('reverse');
  const reversal = await inquiry.reverseAuthorization({ paymentId });
  ctx.awaitAcquirer(undefined);
  metrics.unknownOutcomeResolved('authorize', 'reversed');
  if (reversal.outcome === 'voided') {
    ctx.record('authorization.reversed', reversal.acquirerRef);
    return { ok: false, code: 'authorization_failed', message: `The authorization's answer was lost (${lastError}); it was reversed at the acquirer` };
  }
  if (reversal.outcome === 'declined' || reversal.outcome === 'captured') {
    // It arrived between the inquiry and the reversal, and was declined, or was a sale and is
    // captured (nothing was reversed): take that answer.
    const late = await inquiry.inquireAuthorization({ paymentId });
    if (late.state === 'done') return { ok: true, result: late.result };
    // The acquirer says the sale was captured but holds no answer to it: never decide on a guess.
    // Failing the workflow task keeps the payment waiting, visibly, and retries the read.
    if (reversal.outcome === 'captured') throw new Error(`The acquirer reports the sale captured (${reversal.acquirerRef}) but returns no answer for it; retrying`);
  }
  ctx.record('authorization.reversed', 'never received');
  return { ok: false, code: 'authorization_failed', message: `The authorization did not reach the acquirer (${lastError}); its key is reversed, so it cannot be approved late` };
}

/** The vault destroyed the CVV with the authorization's answer (src/activities/vault.ts): nothing left to purge. */
export function cvvPurgedWithAuthorization(ctx: PaymentContext, purged: { done: boolean }): void {
  purged.done = true;
  ctx.record('cvv.purged', 'with the authorization');
}

/** Runs even if the workflow is being cancelled: a CVV must never outlive its authorization. */
export async function purgeCvv(ctx: PaymentContext, purged: { done: boolean }): Promise<void> {
  if (purged.done) return;
  const { input } = ctx;
  if (!input.cvvRef) {
    // A stored credential: no CVV was ever part of this payment.
    purged.done = true;
    return;
  }
  const { cvvRef } = input;
  await CancellationScope.nonCancellable(() => cvv.purgeCvv({ cvvRef, merchantId: input.merchantId, paymentId: input.paymentId }));
  purged.done = true;
  ctx.record('cvv.purged');
}

// ---- capture ----------------------------------------------------------------------------------

export type CaptureOutcome = { ok: true; result: MovementResult } | StepFailure;

export function capture(ctx: PaymentContext, amount: number): Promise<CaptureOutcome> {
  const { paymentId } = ctx.input;
  return CancellationScope.nonCancellable(async () => {
    const outcome = await knownOutcome(ctx, {
      step: 'capture',
      send: () => money.capturePayment({ paymentId, authorizationRef: ctx.refs.authorization!, amount }),
      inquire: () => inquiry.inquireMovement({ paymentId, step: 'capture' }),
      isRefusal: isAcquirerRefusal,
      resend: true,
    });
    if (outcome.known === 'done') return { ok: true, result: outcome.result } as const;
    return { ok: false, code: 'capture_failed', message: refusalMessage(outcome) };
  });
}

/**
 * Compensation of an authorization not captured: void it. A void that meets `already_captured`
 * means the money was taken after all: the answer says which, and the caller refunds instead.
 */
export function voidAuthorization(ctx: PaymentContext): Promise<{ voided: true } | { voided: false; alreadyCaptured: boolean; reason: string }> {
  const { paymentId } = ctx.input;
  return CancellationScope.nonCancellable(async () => {
    const outcome = await knownOutcome(ctx, {
      step: 'void',
      send: () => money.voidAuthorization({ paymentId, authorizationRef: ctx.refs.authorization! }),
      inquire: () => inquiry.inquireMovement({ paymentId, step: 'void' }),
      isRefusal: isAcquirerRefusal,
      resend: true,
    });
    // Voided before (by the timeout reversal): released all the same.
    if (outcome.known === 'done' || (outcome.known === 'refused' && outcome.code === 'already_voided')) {
      ctx.record('authorization.voided');
      return { voided: true } as const;
    }
    const reason = refusalMessage(outcome);
    ctx.record('void.refused', reason);
    return { voided: false, alreadyCaptured: outcome.known === 'refused' && outcome.code === 'already_captured', reason };
  });
}

/** What the acquirer holds under the capture key: the reference of money already taken, if any. */
export async function knownCapture(ctx: PaymentContext): Promise<string | undefined> {
  const found = await CancellationScope.nonCancellable(() => inquiry.inquireMovement({ paymentId: ctx.input.paymentId, step: 'capture' }));
  return found.state === 'done' ? found.result.acquirerRef : undefined;
}

// ---- refund (merchant requests, and the reversal compensations) ----------------------------------

export function refund(ctx: PaymentContext, refundId: string, amount: number): Promise<{ ok: true; result: MovementResult } | StepFailure> {
  const { paymentId } = ctx.input;
  return CancellationScope.nonCancellable(async () => {
    const outcome = await knownOutcome(ctx, {
      step: 'refund',
      send: () => money.refundPayment({ paymentId, captureRef: ctx.refs.capture!, amount, refundId }),
      inquire: () => inquiry.inquireMovement({ paymentId, step: `refund:${refundId}` }),
      isRefusal: isAcquirerRefusal,
      resend: true,
    });
    if (outcome.known === 'done') return { ok: true, result: outcome.result } as const;
    return { ok: false, code: outcome.known === 'refused' ? outcome.code : 'refund_failed', message: refusalMessage(outcome) };
  });
}

// ---- settle -----------------------------------------------------------------------------------

export function settle(ctx: PaymentContext): Promise<{ ok: true } | StepFailure> {
  const { paymentId } = ctx.input;
  return CancellationScope.nonCancellable(async () => {
    const outcome = await knownOutcome(ctx, {
      step: 'settle',
      send: () => money.settlePayment({ paymentId, captureRef: ctx.refs.capture! }),
      inquire: () => inquiry.inquireMovement({ paymentId, step: 'settle' }),
      isRefusal: isAcquirerRefusal,
      resend: true,
    });
    if (outcome.known === 'done') return { ok: true } as const;
    return { ok: false, code: 'settlement_failed', message: refusalMessage(outcome) };
  });
}

function refusalMessage(outcome: { known: 'refused'; code: string; message: string } | { known: 'not_received'; lastError: string }): string {
  return outcome.known === 'refused' ? outcome.message : outcome.lastError;
}
