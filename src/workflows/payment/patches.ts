/**
 * The workflow changes made since the first release that change its commands, each behind
 * `patched(id)` so that payments already running keep the behaviour they started with
 * (docs/replay.md). Never rename one; remove one (with `deprecatePatch`, then the old branch) only
 * once no payment that started without it can still be running (the 180-day refund window).
 */
export const PATCHES = {
  /** Payment records (src/records): the workflow writes its record after every transition. */
  paymentRecords: 'payment-records-v1',
  /** Payments from a stored payment method (docs/stripe-compat.md): the vault's token is the input, no tokenization. */
  storedCards: 'stored-cards-v1',
  /** Requests that reach the workflow unencrypted (src/workflows/unencrypted-payload.ts) are refused where they land. */
  refuseUnencrypted: 'refuse-unencrypted-v1',
  /**
   * The vault's authorize activity destroys the CVV as soon as the acquirer answers and says so;
   * the payment then skips its purge activity (which stays for every other case), one activity
   * fewer before the merchant's answer.
   */
  cvvPurgedInAuthorization: 'cvv-purged-in-authorization-v1',
  /**
   * An automatic-capture payment whose policy asks for it is authorized and captured in one
   * acquirer call (a sale, docs/performance.md): one activity and one acquirer call fewer before
   * the merchant's answer. Payments without the policy flag, or started before, never call it.
   */
  sale: 'sale-v1',
} as const;
