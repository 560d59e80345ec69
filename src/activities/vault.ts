import { ApplicationFailure, log } from '@temporalio/activity';
import type { AuthorizationResult, CardAuthorizer } from '../acquirer/acquirer-client';
import type { TokenizedCard, Vault } from '../vault/vault';
import { VaultReferenceError } from '../vault/vault';
import { withAcquirerFailures } from './acquirer-failures';
import { acquirerKey } from './acquirer-keys';
import { createReadinessActivities } from './readiness';

export interface VaultActivityDependencies {
  vault: Vault;
  /** Receives card data for authorization; the lifecycle issue supplies the acquirer sandbox client. */
  acquirer: CardAuthorizer;
}

export interface TokenizeInput {
  intakeRef: string;
  merchantId: string;
  paymentId: string;
}

export interface AuthorizeInput {
  token: string;
  /** Absent for a stored credential: a payment method used again once its CVV is gone. */
  cvvRef?: string;
  /**
   * This payment's card expiry, as its merchant sent it: the card row is shared by every merchant
   * that tokenized the same number, so its expiry is not this payment's to read.
   */
  expMonth: number;
  expYear: number;
  amount: number;
  currency: string;
  merchantId: string;
  paymentId: string;
  /**
   * An automatic-capture payment asks for a sale: authorized and captured in the one call, the
   * capture under the payment's capture key (src/activities/acquirer-keys.ts). Absent: authorize only.
   */
  sale?: true;
}

/**
 * The acquirer's answer, and whether the CVV was destroyed with it. `cvvPurged` is true only when
 * this attempt destroyed the CVV (or found it gone) after the answer came in; the workflow still
 * runs its purge activity when it is not true — an answer read back by inquiry, a purge that
 * failed, a payment started before this change (src/workflows/payment/patches.ts).
 */
export type VaultAuthorizationResult = AuthorizationResult & { cvvPurged?: boolean };

export interface RetainCvvInput {
  cvvRef: string;
  /**
   * The CVV lives at least until then (a review deadline), unless purged before. An ISO time: an
   * epoch in ms is a 13-digit run that can pass the Luhn check, and payload scans (rightly) refuse
   * those. Epoch ms from payments started before this change are still accepted.
   */
  until: string | number;
  merchantId: string;
  paymentId: string;
}

export interface PurgeCvvInput {
  cvvRef: string;
  merchantId: string;
  paymentId: string;
}

/**
 * Activities of the vault task queue: the only code that decrypts card data (DESIGN.md §2).
 * Inputs and results are opaque references and public metadata only: no PAN or CVV ever enters
 * a Temporal payload (DESIGN.md §3, invariant 1).
 */
export function createVaultActivities(deps: VaultActivityDependencies) {
  return {
    ...createReadinessActivities(),

    async tokenize(input: TokenizeInput): Promise<TokenizedCard> {
      return asNonRetryableIfGone(() => deps.vault.tokenize(input.intakeRef, { merchantId: input.merchantId, paymentId: input.paymentId }));
    },

    /**
     * Detokenizes inside the vault, hands PAN and CVV to the acquirer and returns only its answer.
     * A decline is an answer, not a failure; an unavailable acquirer is a failure Temporal retries.
     * The idempotency key is the payment and the step, the same on every attempt, so a retry never
     * authorizes twice (DESIGN.md §4).
     */
    async authorize(input: AuthorizeInput): Promise<VaultAuthorizationResult> {
      const idempotencyKey = acquirerKey(input.paymentId, 'authorize');
      const sale = input.sale ? { captureIdempotencyKey: acquirerKey(input.paymentId, 'capture') } : {};
      const expiry = { expMonth: input.expMonth, expYear: input.expYear };
      const context = { merchantId: input.merchantId, paymentId: input.paymentId };
      const answer = await asNonRetryableIfGone(() =>
        deps.vault.withCardForAuthorization(input.token, input.cvvRef, expiry, context, (card) =>
          withAcquirerFailures(() =>
            deps.acquirer.authorize({ ...card, amount: input.amount, currency: input.currency, merchantId: input.merchantId, idempotencyKey, ...sale }),
          ),
        ),
      );
      if (input.cvvRef === undefined) return answer;
      // The answer is in (approved or declined: final under this key), so the CVV's only use is
      // over: destroyed here, before the answer leaves the vault, which spares the payment a
      // separate purge activity on its way to the merchant's answer. Only after an answer: a failed
      // call is retried with the same CVV. If this attempt's result is lost after the purge, the
      // retry finds no CVV and fails, and the workflow reads the answer back from the acquirer by
      // its key (known-outcome.ts). A purge that fails here is left to the workflow's purge activity.
      try {
        await deps.vault.purgeCvv(input.cvvRef, context);
        return { ...answer, cvvPurged: true };
      } catch (err) {
        log.warn('CVV purge after authorization failed; the payment purges it next', { paymentId: input.paymentId, error: (err as Error).message });
        return answer;
      }
    },

    /** Keeps a CVV past its time-to-live while its payment may still authorize (a fraud review). */
    async retainCvv(input: RetainCvvInput): Promise<{ retained: boolean }> {
      const until = typeof input.until === 'number' ? input.until : Date.parse(input.until);
      if (!Number.isFinite(until)) throw ApplicationFailure.nonRetryable('retainCvv: until is not a time', 'InvalidRetainCvvInput');
      return deps.vault.retainCvv(input.cvvRef, until, { merchantId: input.merchantId, paymentId: input.paymentId });
    },

    async purgeCvv(input: PurgeCvvInput): Promise<{ purged: boolean }> {
      return deps.vault.purgeCvv(input.cvvRef, { merchantId: input.merchantId, paymentId: input.paymentId });
    },
  };
}

export type VaultActivities = ReturnType<typeof createVaultActivities>;

/** A reference that is gone (expired, purged) will be gone on every retry: fail for good, with its code. */
async function asNonRetryableIfGone<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof VaultReferenceError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}
