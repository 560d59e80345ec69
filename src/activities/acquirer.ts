import type { AcquirerClient, AuthorizationResult, Inquiry, MovementResult, ReversalResult } from '../acquirer/acquirer-client';
import { withAcquirerFailures } from './acquirer-failures';
import { acquirerKey, type AcquirerKeyStep } from './acquirer-keys';
import { createReadinessActivities } from './readiness';

/**
 * Activities of the acquirer task queue: money movements by acquirer reference, never card data
 * (DESIGN.md §2). Each carries an idempotency key made of the payment and the step, identical on
 * every retry, so a retried activity never moves money twice (DESIGN.md §4). The inquiries and
 * the timeout reversal turn an outcome lost on the wire into a known one (DESIGN.md §4a).
 */
export function createAcquirerActivities(deps: { acquirer: AcquirerClient }) {
  const { acquirer } = deps;
  return {
    ...createReadinessActivities(),

    async capturePayment(input: { paymentId: string; authorizationRef: string; amount: number }): Promise<MovementResult> {
      return withAcquirerFailures(() =>
        acquirer.capture({ authorizationRef: input.authorizationRef, amount: input.amount, idempotencyKey: acquirerKey(input.paymentId, 'capture') }),
      );
    },

    async voidAuthorization(input: { paymentId: string; authorizationRef: string }): Promise<MovementResult> {
      return withAcquirerFailures(() => acquirer.void({ authorizationRef: input.authorizationRef, idempotencyKey: acquirerKey(input.paymentId, 'void') }));
    },

    async refundPayment(input: { paymentId: string; captureRef: string; amount: number; refundId: string }): Promise<MovementResult> {
      return withAcquirerFailures(() =>
        acquirer.refund({ captureRef: input.captureRef, amount: input.amount, idempotencyKey: acquirerKey(input.paymentId, `refund:${input.refundId}`) }),
      );
    },

    async settlePayment(input: { paymentId: string; captureRef: string }): Promise<MovementResult> {
      return withAcquirerFailures(() => acquirer.settle({ captureRef: input.captureRef, idempotencyKey: acquirerKey(input.paymentId, 'settle') }));
    },

    /** What the acquirer holds under the payment's authorization key (the vault worker sent it with card data). */
    async inquireAuthorization(input: { paymentId: string }): Promise<Inquiry<AuthorizationResult>> {
      return withAcquirerFailures(() => acquirer.inquireAuthorization(acquirerKey(input.paymentId, 'authorize')));
    },

    async inquireMovement(input: { paymentId: string; step: Exclude<AcquirerKeyStep, 'authorize' | 'reverse'> }): Promise<Inquiry<MovementResult>> {
      return withAcquirerFailures(() => acquirer.inquireMovement(acquirerKey(input.paymentId, input.step)));
    },

    /** The timeout reversal of the payment's authorization: void it if it exists, refuse it if it arrives late. */
    async reverseAuthorization(input: { paymentId: string }): Promise<ReversalResult> {
      return withAcquirerFailures(() =>
        acquirer.reverseAuthorization({ authorizationKey: acquirerKey(input.paymentId, 'authorize'), idempotencyKey: acquirerKey(input.paymentId, 'reverse') }),
      );
    },
  };
}

export type AcquirerActivities = ReturnType<typeof createAcquirerActivities>;
