import type { AcquirerClient, MovementResult } from '../acquirer/acquirer-client';
import { withAcquirerFailures } from './acquirer-failures';
import { createReadinessActivities } from './readiness';

/**
 * Activities of the acquirer task queue: money movements by acquirer reference, never card data
 * (DESIGN.md §2). Each carries an idempotency key made of the payment and the step, identical on
 * every retry, so a retried activity never moves money twice (DESIGN.md §4).
 */
export function createAcquirerActivities(deps: { acquirer: AcquirerClient }) {
  const { acquirer } = deps;
  return {
    ...createReadinessActivities(),

    async capturePayment(input: { paymentId: string; authorizationRef: string; amount: number }): Promise<MovementResult> {
      return withAcquirerFailures(() =>
        acquirer.capture({ authorizationRef: input.authorizationRef, amount: input.amount, idempotencyKey: `${input.paymentId}:capture` }),
      );
    },

    async voidAuthorization(input: { paymentId: string; authorizationRef: string }): Promise<MovementResult> {
      return withAcquirerFailures(() => acquirer.void({ authorizationRef: input.authorizationRef, idempotencyKey: `${input.paymentId}:void` }));
    },

    async refundPayment(input: { paymentId: string; captureRef: string; amount: number; refundId: string }): Promise<MovementResult> {
      return withAcquirerFailures(() =>
        acquirer.refund({ captureRef: input.captureRef, amount: input.amount, idempotencyKey: `${input.paymentId}:refund:${input.refundId}` }),
      );
    },

    async settlePayment(input: { paymentId: string; captureRef: string }): Promise<MovementResult> {
      return withAcquirerFailures(() => acquirer.settle({ captureRef: input.captureRef, idempotencyKey: `${input.paymentId}:settle` }));
    },
  };
}

export type AcquirerActivities = ReturnType<typeof createAcquirerActivities>;
