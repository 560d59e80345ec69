import { proxyActivities } from '@temporalio/workflow';
import type { VaultActivities } from '../activities/vault';
import type { TokenizedCard } from '../vault/vault';
import { TASK_QUEUES } from '../temporal/task-queues';

export interface PaymentMethodInput {
  /** The sealed card (src/vault/card-intake.ts); its CVV stays sealed for the method's first payment. */
  intakeRef: string;
  merchantId: string;
  /** The `pm_…` being created: the vault's audit trail names it where a payment id would be. */
  paymentMethodId: string;
}

const { tokenize } = proxyActivities<Pick<VaultActivities, 'tokenize'>>({
  taskQueue: TASK_QUEUES.vault,
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
});

/**
 * A payment method (POST /v1/payment_methods, docs/stripe-compat.md): the vault tokenizes the
 * sealed card, as the payment workflow's first step does, and answers the token and the card's
 * public metadata. Only the vault worker reads the card; the API cannot.
 */
export async function paymentMethodWorkflow(input: PaymentMethodInput): Promise<TokenizedCard> {
  return tokenize({ intakeRef: input.intakeRef, merchantId: input.merchantId, paymentId: input.paymentMethodId });
}
