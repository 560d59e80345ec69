import type { PaymentStatus } from './lifecycle';

/**
 * What a payment is, as the workflow keeps it and the API shows it. Card fields are the vault's
 * public metadata only: never a PAN or a CVV (DESIGN.md §3, invariant 1). The statuses and their
 * transitions are in ./lifecycle.ts.
 */
export type { PaymentStatus };

/** The money calls of a payment, as the workflow names them (metric labels, the API's `awaiting_acquirer.step`). */
export const ACQUIRER_STEPS = ['authorize', 'reverse', 'capture', 'void', 'refund', 'settle'] as const;
export type AcquirerStep = (typeof ACQUIRER_STEPS)[number];

export type CaptureMethod = 'automatic' | 'manual';

/** Timers of the lifecycle; defaults in DESIGN.md §4, configurable per deployment. */
export interface PaymentPolicy {
  authorizationExpiryMs: number;
  reviewDeadlineMs: number;
  /** Daily settlement cutoff, "HH:MM" in UTC. */
  settlementCutoffUtc: string;
  refundWindowMs: number;
  /**
   * Automatic capture in the authorization's call (a sale) rather than a capture call after it.
   * Absent in payments started before sales existed: they authorize, then capture.
   */
  automaticCaptureAsSale?: boolean;
}

export interface PaymentInput {
  paymentId: string;
  merchantId: string;
  amount: number;
  currency: string;
  captureMethod: CaptureMethod;
  description?: string;
  metadata?: Record<string, string>;
  /** Opaque references to the sealed card (src/vault/card-intake.ts). Absent for a stored card. */
  intakeRef?: string;
  /**
   * The sealed CVV, until authorization is over. Absent for a stored card whose CVV is gone (a
   * payment method used again, docs/stripe-compat.md): it authorizes as a stored credential.
   */
  cvvRef?: string;
  /**
   * A card the vault already holds (a payment method, `pm_…`): no tokenization, and the card's
   * public metadata comes from the vault's earlier answer. Never a PAN or a CVV.
   */
  storedCard?: StoredCard;
  /** Public card data known at the edge, shown before tokenization finishes. */
  cardSummary: { brand: string; last4: string; expMonth: number; expYear: number };
  /** Hash of the creating request (without card secrets): the same idempotency key with another body is a conflict. */
  requestHash: string;
  policy: PaymentPolicy;
}

export interface StoredCard {
  token: string;
  bin: string;
  brand: string;
  last4: string;
  fingerprint: string;
  issuingCountry?: string;
}

export interface PaymentCard {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  fingerprint?: string;
  issuingCountry?: string;
}

export interface TimelineEvent {
  at: string;
  event: string;
  detail?: string;
}

export interface Refund {
  id: string;
  amount: number;
  /** `pending` until the acquirer's answer is known: never assumed paid, never assumed not. */
  status: 'pending' | 'succeeded' | 'failed';
  acquirerRef?: string;
  failureReason?: string;
  createdAt: string;
}

export interface PaymentState {
  id: string;
  merchantId: string;
  status: PaymentStatus;
  amount: number;
  currency: string;
  captureMethod: CaptureMethod;
  description?: string;
  metadata: Record<string, string>;
  amountCapturable: number;
  amountCaptured: number;
  amountRefunded: number;
  card: PaymentCard;
  fraud?: {
    decision: 'approve' | 'review' | 'decline';
    reasons: { rule: string; detail: string }[];
    reviewedBy?: string;
    /** The model's probability of fraud (absent for payments checked by the rules alone). */
    score?: number;
    modelVersion?: string;
    /** ISO time of the features the model read. */
    scoredAt?: string;
    /** For operations only (the review queue): what pushed the score, in words. Never shown to merchants. */
    explanations?: { code: string; detail: string; contribution: number }[];
    /** ISO time a review is declined if nobody decides it. */
    reviewDeadline?: string;
  };
  declineCode?: string;
  failure?: { code: string; message: string };
  refunds: Refund[];
  /**
   * Set while a money call's outcome is unknown and the acquirer does not answer: the payment
   * waits (it does not decide on a guess) and shows what it waits for (DESIGN.md §4a).
   */
  awaitingAcquirer?: { step: AcquirerStep; since: string };
  /** When an uncaptured authorization expires (manual capture). */
  captureBefore?: string;
  settledAt?: string;
  refundableUntil?: string;
  createdAt: string;
  requestHash: string;
  timeline: TimelineEvent[];
}
