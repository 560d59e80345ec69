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

/** How many simulated cards `simulatedCard` makes: one per customer of the shared fraud data a test replays. */
export const SIMULATED_CARDS = 1000;

/**
 * The `i`-th of `SIMULATED_CARDS` distinct Luhn-valid Visa numbers under the test BIN 400001 (no test
 * card of the sandbox: it approves them), for tests that need one card per customer. They are in
 * `cardSecrets()`, so the leak scans look for every one of them.
 */
export function simulatedCard(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= SIMULATED_CARDS) throw new Error(`simulatedCard: ${i} is not in 0..${SIMULATED_CARDS - 1}`);
  const body = `400001${String(i).padStart(9, '0')}`;
  let sum = 0;
  for (let k = 0; k < body.length; k++) {
    let d = Number(body[body.length - 1 - k]);
    if (k % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}

/** Every place a test card could leak, as strings to search for. */
export function cardSecrets(): string[] {
  return [...Object.values(TEST_CARDS), ...Array.from({ length: SIMULATED_CARDS }, (_, i) => simulatedCard(i)), ...TEST_CVCS.map((c) => `"${c}"`)];
}
