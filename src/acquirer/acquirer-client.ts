/**
 * The seam between the gateway and a card acquirer (DESIGN.md §2): activities talk to this
 * interface, the sandbox implements it over HTTP, and a real acquirer connector can replace it.
 * Only `authorize` ever sees card data, and only the vault worker calls it.
 */

export interface AuthorizationRequest {
  pan: string;
  expMonth: number;
  expYear: number;
  cvc: string;
  /** Minor units. */
  amount: number;
  currency: string;
  merchantId: string;
  /** Derived from the workflow and step, so a retried activity never authorizes twice. */
  idempotencyKey: string;
}

export type AuthorizationResult =
  | { outcome: 'approved'; acquirerRef: string; authorizationCode: string }
  | { outcome: 'declined'; acquirerRef?: string; declineCode: string; message: string };

/** The acquirer could not answer now (timeout, 5xx, connection): the same call may succeed later. */
export class AcquirerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AcquirerUnavailableError';
  }
}

export interface CardAuthorizer {
  authorize(request: AuthorizationRequest): Promise<AuthorizationResult>;
}
