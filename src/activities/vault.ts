import { ApplicationFailure } from '@temporalio/activity';
import type { AuthorizationResult, CardAuthorizer } from '../acquirer/acquirer-client';
import type { TokenizedCard, Vault } from '../vault/vault';
import { VaultReferenceError } from '../vault/vault';
import { withAcquirerFailures } from './acquirer-failures';
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
  cvvRef: string;
  amount: number;
  currency: string;
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
    async authorize(input: AuthorizeInput): Promise<AuthorizationResult> {
      const idempotencyKey = `${input.paymentId}:authorize`;
      return asNonRetryableIfGone(() =>
        deps.vault.withCardForAuthorization(input.token, input.cvvRef, { merchantId: input.merchantId, paymentId: input.paymentId }, (card) =>
          withAcquirerFailures(() =>
            deps.acquirer.authorize({ ...card, amount: input.amount, currency: input.currency, merchantId: input.merchantId, idempotencyKey }),
          ),
        ),
      );
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
