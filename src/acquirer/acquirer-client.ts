/**
 * The seam between the gateway and a card acquirer (DESIGN.md §2, Hyperswitch's connector split):
 * activities talk to this interface, the sandbox client implements it over HTTP, and a real
 * acquirer connector can replace it. Only `authorize` ever sees card data, and only the vault
 * worker calls it; the acquirer worker works with acquirer references alone.
 *
 * Every call carries an idempotency key derived from the payment and the step (DESIGN.md §4): the
 * acquirer answers a repeated key with its first answer and moves no money twice.
 */

export interface AuthorizationRequest {
  pan: string;
  expMonth: number;
  expYear: number;
  /** Absent for a stored credential (a card on file, no CVC kept): the acquirer authorizes without it. */
  cvc?: string;
  /** Minor units. */
  amount: number;
  /** ISO 4217, upper case. */
  currency: string;
  merchantId: string;
  idempotencyKey: string;
  /**
   * A sale: capture the whole amount in the same call, under this idempotency key (the one a
   * separate capture would carry, so inquiries and the books see one capture either way).
   */
  captureIdempotencyKey?: string;
}

/** The capture half of a sale: taken, or refused with the acquirer's code (the authorization then stands, uncaptured). */
export type SaleCapture = { outcome: 'captured'; acquirerRef: string } | { outcome: 'refused'; code: string; message: string };

export type AuthorizationResult =
  /** `capture` only when the request was a sale and the acquirer does sales. */
  | { outcome: 'approved'; acquirerRef: string; authorizationCode: string; capture?: SaleCapture }
  | { outcome: 'declined'; acquirerRef?: string; declineCode: DeclineCode; message: string };

export type DeclineCode = 'generic_decline' | 'insufficient_funds' | 'incorrect_cvc' | 'expired_card' | 'do_not_honor';

export interface CaptureRequest {
  authorizationRef: string;
  /** Minor units, at most the authorized amount. */
  amount: number;
  idempotencyKey: string;
}

export interface VoidRequest {
  authorizationRef: string;
  idempotencyKey: string;
}

export interface RefundRequest {
  captureRef: string;
  /** Minor units, at most what is captured and not yet refunded. */
  amount: number;
  idempotencyKey: string;
}

export interface SettleRequest {
  captureRef: string;
  idempotencyKey: string;
}

/** An acquirer's reference for one money movement (capture, void, refund, settlement). */
export interface MovementResult {
  acquirerRef: string;
}

/** The acquirer could not answer now (timeout, 5xx, connection refused): the same call may succeed later. */
export class AcquirerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AcquirerUnavailableError';
  }
}

/** The acquirer refused the operation for good (4xx with a reason): retrying the same call will not help. */
export class AcquirerRejectedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AcquirerRejectedError';
  }
}

/**
 * What the acquirer knows of one operation, asked by its idempotency key (DESIGN.md §4a): its
 * stored final answer, or that it never received it. Real acquirers offer this as a status
 * inquiry; it is how an outcome lost on the wire becomes a known one.
 */
export type Inquiry<T> =
  /** The acquirer answered the operation with this result (an authorization's result may be a decline). */
  | { state: 'done'; result: T }
  /** The acquirer refused the operation for good, with its code (e.g. already_captured). */
  | { state: 'refused'; code: string; message: string }
  /** The acquirer holds no final answer to this key: the request never reached it (or failed transiently). */
  | { state: 'not_received' };

export interface ReversalRequest {
  /** The idempotency key of the authorization to reverse (`<payment id>:authorize`). */
  authorizationKey: string;
  /** The reversal's own idempotency key (`<payment id>:reverse`). */
  idempotencyKey: string;
}

/**
 * The card networks' timeout reversal: an authorization known only by its idempotency key is
 * voided if it exists (a `void` row in the ledger), and if it does not, the key is closed so an
 * authorization that arrives late with it is refused (`authorization_reversed`).
 */
export type ReversalResult =
  /** The authorization existed, approved, and is now voided (or was voided before). */
  | { outcome: 'voided'; acquirerRef: string }
  /** The authorization existed and was declined: nothing was held, nothing to release. */
  | { outcome: 'declined' }
  /** No authorization had arrived with that key; none will be accepted any more. */
  | { outcome: 'closed' }
  /** A sale arrived with that key after all and was captured: nothing is reversed; read its answer. */
  | { outcome: 'captured'; acquirerRef: string };

export interface CardAuthorizer {
  /** A decline is an answer, not an error; errors are AcquirerUnavailableError or AcquirerRejectedError. */
  authorize(request: AuthorizationRequest): Promise<AuthorizationResult>;
}

/** One line of the acquirer's daily settlement report: a money movement it booked that day. */
export interface SettlementReportLine {
  ref: string;
  kind: 'capture' | 'refund' | 'settlement';
  amount: number;
  currency: string;
  merchantId: string;
  /** The key the gateway sent the call under (`<payment id>:<step>`, src/activities/acquirer-keys.ts). */
  idempotencyKey: string;
  /** ISO 8601, UTC. */
  createdAt: string;
}

export interface AcquirerClient extends CardAuthorizer {
  capture(request: CaptureRequest): Promise<MovementResult>;
  void(request: VoidRequest): Promise<MovementResult>;
  refund(request: RefundRequest): Promise<MovementResult>;
  settle(request: SettleRequest): Promise<MovementResult>;
  /** Status inquiry of an authorization by its idempotency key. Errors: AcquirerUnavailableError only. */
  inquireAuthorization(idempotencyKey: string): Promise<Inquiry<AuthorizationResult>>;
  /** Status inquiry of a capture, void, refund or settlement by its idempotency key. Errors: AcquirerUnavailableError only. */
  inquireMovement(idempotencyKey: string): Promise<Inquiry<MovementResult>>;
  /** Timeout reversal of an authorization known only by its key. Idempotent under `idempotencyKey`. */
  reverseAuthorization(request: ReversalRequest): Promise<ReversalResult>;
  /** The money movements the acquirer booked on `date` (YYYY-MM-DD, UTC). Errors: AcquirerUnavailableError only. */
  settlementReport(date: string): Promise<SettlementReportLine[]>;
}
