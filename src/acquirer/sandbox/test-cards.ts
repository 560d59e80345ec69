import type { DeclineCode } from '../acquirer-client';

/**
 * What the sandbox does with a card, decided by its full number (README, "Test cards"; the same
 * table as test/helpers/test-cards.ts). Any other Luhn-valid number is approved.
 *
 * The behaviour's name is what the ledger keeps about the card besides its last four digits:
 * enough for a test to see why a payment went the way it did, nothing that identifies the card.
 */
export type CardBehaviour =
  | 'approve'
  | 'decline_generic'
  | 'decline_insufficient_funds'
  | 'decline_incorrect_cvc'
  | 'decline_expired_card'
  /** The first two authorization attempts per idempotency key answer 503, then it is approved. */
  | 'transient_then_approve'
  /** Approved; every capture of it fails for good (422 capture_failed). */
  | 'capture_fails'
  /** Approved and captured; its settlement fails for good (422 settlement_failed). */
  | 'settlement_fails';

export interface Decline {
  code: DeclineCode;
  message: string;
}

const BEHAVIOUR_BY_PAN: ReadonlyMap<string, CardBehaviour> = new Map([
  ['4000000000000002', 'decline_generic'],
  ['4000000000009995', 'decline_insufficient_funds'],
  ['4000000000000127', 'decline_incorrect_cvc'],
  ['4000000000000069', 'decline_expired_card'],
  ['4000000000000119', 'transient_then_approve'],
  ['4000000000000259', 'capture_fails'],
  ['4000000000000341', 'settlement_fails'],
  // 4242424242424242, 5555555555554444, 378282246310005, 6011111111111117, and the cards the
  // gateway's fraud rules stop (4100000000000019) or send to review (4000000000004954), are
  // approved like any other card: the acquirer does not see the gateway's fraud decision.
]);

const DECLINES: Partial<Record<CardBehaviour, Decline>> = {
  decline_generic: { code: 'generic_decline', message: 'The card was declined.' },
  decline_insufficient_funds: { code: 'insufficient_funds', message: 'The card has insufficient funds.' },
  decline_incorrect_cvc: { code: 'incorrect_cvc', message: "The card's security code is incorrect." },
  decline_expired_card: { code: 'expired_card', message: 'The card has expired.' },
};

/** How many authorization attempts of a `transient_then_approve` card answer 503 before approval. */
export const TRANSIENT_ATTEMPTS = 2;

export function behaviourOf(pan: string): CardBehaviour {
  return BEHAVIOUR_BY_PAN.get(pan) ?? 'approve';
}

/** The decline a behaviour answers with, or undefined when the card is approved. */
export function declineOf(behaviour: CardBehaviour): Decline | undefined {
  return DECLINES[behaviour];
}
