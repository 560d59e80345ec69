import type { PaymentState } from '../../src/workflows/payment/state';

/**
 * A payment's state as the workflow keeps it, for tests of what reads or stores it (records,
 * ledger): a EUR 10.00 visa payment of merchant `m_a`, still processing, unless `over` says otherwise.
 * The card is the public metadata only, as in the workflow.
 */
export function paymentState(id: string, over: Partial<PaymentState> = {}): PaymentState {
  return {
    id,
    merchantId: 'm_a',
    status: 'processing',
    amount: 1000,
    currency: 'EUR',
    captureMethod: 'automatic',
    metadata: {},
    amountCapturable: 0,
    amountCaptured: 0,
    amountRefunded: 0,
    card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2030 },
    refunds: [],
    createdAt: '2026-12-01T10:00:00.000Z',
    requestHash: 'h',
    timeline: [],
    ...over,
  };
}
