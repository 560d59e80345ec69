import { validateCard, type ValidatedCard } from '../../src/vault/card-validation';

/**
 * The acquirer sandbox's test cards (README, "Test cards"). The leak scans search for every one of
 * these numbers and CVCs: keep every card a test uses in this list.
 */
export const TEST_CARDS = {
  visa: '4242424242424242',
  mastercard: '5555555555554444',
  amex: '378282246310005',
  discover: '6011111111111117',
  declinedGeneric: '4000000000000002',
  declinedInsufficientFunds: '4000000000009995',
  declinedIncorrectCvc: '4000000000000127',
  declinedExpired: '4000000000000069',
  transientThenApproved: '4000000000000119',
  captureFails: '4000000000000259',
  settlementFails: '4000000000000341',
  fraudBlocklisted: '4100000000000019',
  fraudReview: '4000000000004954',
} as const;

/** CVCs used with the test cards: distinctive, so a scan can tell them from other digits. */
export const TEST_CVCS = ['731', '7319'] as const;

export function testCard(number: string, overrides: Partial<{ exp_month: number; exp_year: number; cvc: string }> = {}): ValidatedCard {
  const cvc = overrides.cvc ?? (number.startsWith('37') ? TEST_CVCS[1] : TEST_CVCS[0]);
  return validateCard({ number, exp_month: overrides.exp_month ?? 12, exp_year: overrides.exp_year ?? 2030, cvc });
}

/** Every place a test card could leak, as strings to search for. */
export function cardSecrets(): string[] {
  return [...Object.values(TEST_CARDS), ...TEST_CVCS.map((c) => `"${c}"`)];
}
