import { lookupIssuingCountry } from './bin-table';

/**
 * Card validation at the edge of the vault: everything that can be decided from the card data
 * alone is rejected here, before a card is tokenized or sent to an acquirer, so that typos get a
 * precise, field-level error instead of a generic decline after a network round trip.
 *
 * Error messages are fixed strings with no digits at all: they end up in API responses and logs,
 * and a message built from the input could leak part of a PAN or a CVC (PCI DSS 3.3/3.4).
 */

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover' | 'jcb' | 'diners';

export interface CardInput {
  number: string;
  exp_month: number;
  exp_year: number;
  cvc: string;
}

export interface ValidatedCard {
  /** Digits only. */
  pan: string;
  expMonth: number;
  expYear: number;
  cvc: string;
  brand: CardBrand;
  /** First 6 digits. */
  bin: string;
  last4: string;
  /** ISO 3166-1 alpha-2, when the BIN table knows the issuer. */
  issuingCountry?: string;
}

export type CardErrorCode =
  | 'invalid_number'
  | 'invalid_number_length'
  | 'incorrect_number'
  | 'unsupported_brand'
  | 'invalid_expiry_month'
  | 'invalid_expiry_year'
  | 'expired_card'
  | 'invalid_cvc';

export type CardErrorParam = 'card.number' | 'card.exp_month' | 'card.exp_year' | 'card.cvc';

// The field follows from the code, so a caller can never report one against the wrong field.
const PARAM_OF: Record<CardErrorCode, CardErrorParam> = {
  invalid_number: 'card.number',
  invalid_number_length: 'card.number',
  incorrect_number: 'card.number',
  unsupported_brand: 'card.number',
  invalid_expiry_month: 'card.exp_month',
  invalid_expiry_year: 'card.exp_year',
  // Stripe reports an expired card against the month: it is the field a user most often gets wrong.
  expired_card: 'card.exp_month',
  invalid_cvc: 'card.cvc',
};

export class CardValidationError extends Error {
  override readonly name = 'CardValidationError';
  readonly code: CardErrorCode;
  readonly param: CardErrorParam;

  /** `message` must be a fixed string: never interpolate any part of the card data into it. */
  constructor(code: CardErrorCode, message: string) {
    super(message);
    this.code = code;
    this.param = PARAM_OF[code];
  }
}

export const CVC_LENGTH: Record<CardBrand, number> = {
  visa: 3,
  mastercard: 3,
  amex: 4,
  discover: 3,
  jcb: 3,
  diners: 3,
};

const BRAND_NAME: Record<CardBrand, string> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  jcb: 'JCB',
  diners: 'Diners Club',
};

// Spelled out so that messages stay digit-free (see the module comment).
const CVC_LENGTH_WORD: Record<number, string> = { 3: 'three', 4: 'four' };

interface BrandRule {
  brand: CardBrand;
  /** Inclusive [low, high] IIN ranges; both bounds have the same number of digits. */
  ranges: ReadonlyArray<readonly [string, string]>;
  lengths: readonly number[];
}

// Ranges are disjoint across brands, so the order only matters for readability.
const BRAND_RULES: readonly BrandRule[] = [
  { brand: 'visa', ranges: [['4', '4']], lengths: [13, 16, 19] },
  {
    brand: 'mastercard',
    ranges: [
      ['51', '55'],
      ['2221', '2720'],
    ],
    lengths: [16],
  },
  {
    brand: 'amex',
    ranges: [
      ['34', '34'],
      ['37', '37'],
    ],
    lengths: [15],
  },
  {
    brand: 'discover',
    ranges: [
      ['6011', '6011'],
      ['644', '649'],
      ['65', '65'],
      // China UnionPay cards co-branded with Discover, routed over the Discover network.
      ['622126', '622925'],
    ],
    lengths: [16, 17, 18, 19],
  },
  { brand: 'jcb', ranges: [['3528', '3589']], lengths: [16, 17, 18, 19] },
  {
    brand: 'diners',
    ranges: [
      ['300', '305'],
      ['3095', '3095'],
      ['36', '36'],
      ['38', '39'],
    ],
    lengths: [14, 15, 16, 17, 18, 19],
  },
];

const MIN_PAN_LENGTH = 12;
const MAX_PAN_LENGTH = 19;
// Cards are issued for a few years at most; a far-future year is a typo (or a probe), not a card.
const MAX_YEARS_AHEAD = 20;
const MAX_YEARS_AHEAD_WORD = 'twenty';

function ruleFor(digits: string): BrandRule | undefined {
  if (!/^\d+$/.test(digits)) return undefined;
  return BRAND_RULES.find((rule) =>
    rule.ranges.some(([low, high]) => {
      if (digits.length < low.length) return false;
      // Same-length digit strings compare lexicographically exactly as they do numerically.
      const prefix = digits.slice(0, low.length);
      return prefix >= low && prefix <= high;
    }),
  );
}

export function detectBrand(digits: string): CardBrand | undefined {
  return ruleFor(digits)?.brand;
}

export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  // Doubling starts from the second digit from the right, whatever the length of the number.
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function fail(code: CardErrorCode, message: string): never {
  throw new CardValidationError(code, message);
}

function validateNumber(raw: unknown): { pan: string; rule: BrandRule } {
  if (typeof raw !== 'string') fail('invalid_number', 'The card number is missing.');
  // Users copy numbers as printed on the card or in groups; other characters mean a wrong field.
  const pan = raw.replace(/[ -]/g, '');
  if (pan === '') fail('invalid_number', 'The card number is missing.');
  if (!/^\d+$/.test(pan)) {
    fail('invalid_number', 'The card number may contain only digits, spaces and dashes.');
  }
  if (pan.length < MIN_PAN_LENGTH || pan.length > MAX_PAN_LENGTH) {
    fail('invalid_number_length', 'The card number is not a valid length.');
  }
  const rule = ruleFor(pan) ?? fail('unsupported_brand', 'The card brand is not supported.');
  if (!rule.lengths.includes(pan.length)) {
    fail(
      'invalid_number_length',
      `The card number has the wrong number of digits for a ${BRAND_NAME[rule.brand]} card.`,
    );
  }
  // Last, because a checksum failure on a well-formed number is almost always a typo.
  if (!luhnValid(pan)) fail('incorrect_number', 'The card number is incorrect.');
  return { pan, rule };
}

/**
 * Validates card data and returns it normalised, or throws the first failure as a
 * `CardValidationError`, checked in order: number, expiry month, expiry year, expiry in the past,
 * CVC. Fields are checked at run time too, as the input usually comes straight from JSON.
 */
export function validateCard(input: CardInput, now: Date = new Date()): ValidatedCard {
  if (Number.isNaN(now.getTime())) throw new TypeError('validateCard: now must be a valid Date');

  const { pan, rule } = validateNumber(input.number);

  const month: unknown = input.exp_month;
  if (typeof month !== 'number' || !Number.isInteger(month) || month < 1 || month > 12) {
    fail('invalid_expiry_month', "The card's expiration month must be a whole number from one to twelve.");
  }

  const year: unknown = input.exp_year;
  if (
    typeof year !== 'number' ||
    !Number.isInteger(year) ||
    year < 1000 ||
    year > now.getUTCFullYear() + MAX_YEARS_AHEAD
  ) {
    fail(
      'invalid_expiry_year',
      `The card's expiration year must be a four-digit year at most ${MAX_YEARS_AHEAD_WORD} years from now.`,
    );
  }

  // A card is valid through the last day of its expiry month (UTC): it expires at the first
  // instant of the following month. Date.UTC's month is zero-based, so `month` is "next month".
  if (now.getTime() >= Date.UTC(year, month, 1)) fail('expired_card', 'The card has expired.');

  const cvc: unknown = input.cvc;
  if (typeof cvc !== 'string' || !/^\d+$/.test(cvc)) {
    fail('invalid_cvc', "The card's security code may contain only digits.");
  }
  const cvcLength = CVC_LENGTH[rule.brand];
  if (cvc.length !== cvcLength) {
    fail(
      'invalid_cvc',
      `The card's security code must be ${CVC_LENGTH_WORD[cvcLength]} digits for a ${BRAND_NAME[rule.brand]} card.`,
    );
  }

  const issuingCountry = lookupIssuingCountry(pan);
  return {
    pan,
    expMonth: month,
    expYear: year,
    cvc,
    brand: rule.brand,
    bin: pan.slice(0, 6),
    last4: pan.slice(-4),
    ...(issuingCountry === undefined ? {} : { issuingCountry }),
  };
}
