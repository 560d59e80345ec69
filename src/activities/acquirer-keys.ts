/**
 * Idempotency keys of a payment's acquirer calls: `<payment id>:<step>`, the same on every retry
 * and every inquiry, so the acquirer moves no money twice and an outside audit can match each
 * ledger row to its payment by the prefix (DESIGN.md §4).
 */
export type AcquirerKeyStep = 'authorize' | 'reverse' | 'capture' | 'void' | 'settle' | `refund:${string}`;

export function acquirerKey(paymentId: string, step: AcquirerKeyStep): string {
  return `${paymentId}:${step}`;
}
