import {
  CVC_LENGTH,
  CardInput,
  CardValidationError,
  detectBrand,
  luhnValid,
  validateCard,
} from '../../src/vault/card-validation';
import { BIN_COUNTRY_ENTRIES, lookupIssuingCountry } from '../../src/vault/bin-table';

// A fixed clock keeps the suite independent of the date it runs on.
const NOW = new Date('2026-03-15T12:00:00Z');

function card(overrides: Partial<Record<keyof CardInput, unknown>> = {}): CardInput {
  return { number: '4242424242424242', exp_month: 12, exp_year: 2030, cvc: '123', ...overrides } as CardInput;
}

function errorOf(input: CardInput, now: Date = NOW): CardValidationError {
  try {
    validateCard(input, now);
  } catch (err) {
    if (err instanceof CardValidationError) return err;
    throw err;
  }
  throw new Error('expected validateCard to throw a CardValidationError');
}

describe('validateCard: sandbox test cards', () => {
  // Titles name the row and brand only: card numbers stay in the test data, out of reports.
  it.each([
    ['visa', '4242424242424242', 'US'],
    ['mastercard', '5555555555554444', 'US'],
    ['amex', '378282246310005', 'US'],
    ['discover', '6011111111111117', 'US'],
    ['visa', '4000000000000002', 'US'],
    ['visa', '4000000000009995', 'US'],
    ['visa', '4000000000000127', 'US'],
    ['visa', '4000000000000069', 'US'],
    ['visa', '4000000000000119', 'US'],
    ['visa', '4000000000000259', 'US'],
    ['visa', '4000000000000341', 'US'],
    ['visa', '4100000000000019', 'US'],
    ['visa', '4000000000004954', 'US'],
  ])('accepts test card #%# (%s)', (brand, number, country) => {
    const cvc = brand === 'amex' ? '1234' : '123';
    const result = validateCard({ number, exp_month: 12, exp_year: 2030, cvc }, NOW);
    expect(result).toEqual({
      pan: number,
      expMonth: 12,
      expYear: 2030,
      cvc,
      brand,
      bin: number.slice(0, 6),
      last4: number.slice(-4),
      issuingCountry: country,
    });
  });

  it('accepts a 2-series Mastercard', () => {
    expect(validateCard(card({ number: '2223003122003222' }), NOW).brand).toBe('mastercard');
  });

  it('accepts a 13-digit Visa', () => {
    const result = validateCard(card({ number: '4222222222222' }), NOW);
    expect(result.brand).toBe('visa');
    expect(result.pan).toHaveLength(13);
  });

  it('accepts the optional brands (JCB, Diners Club)', () => {
    expect(validateCard(card({ number: '3566002020360505' }), NOW).brand).toBe('jcb');
    expect(validateCard(card({ number: '36227206271667' }), NOW).brand).toBe('diners');
    expect(validateCard(card({ number: '3056930009020004' }), NOW).brand).toBe('diners');
  });

  it('strips spaces and dashes from the number', () => {
    const spaced = validateCard(card({ number: '4242 4242 4242 4242' }), NOW);
    const dashed = validateCard(card({ number: '3782-822463-10005', cvc: '1234' }), NOW);
    expect(spaced.pan).toBe('4242424242424242');
    expect(dashed.pan).toBe('378282246310005');
    expect(dashed.bin).toBe('378282');
    expect(dashed.last4).toBe('0005');
  });

  it('omits issuingCountry when the BIN is unknown', () => {
    // Luhn-valid Visa outside the sample BIN table.
    const result = validateCard(card({ number: '4111111111111111' }), NOW);
    expect(result).not.toHaveProperty('issuingCountry');
  });

  it('defaults now to the current time', () => {
    const nextYear = new Date().getUTCFullYear() + 1;
    expect(validateCard(card({ exp_year: nextYear })).expYear).toBe(nextYear);
  });
});

describe('validateCard: card number errors', () => {
  it.each([
    ['empty', '', 'invalid_number'],
    ['only separators', ' - - ', 'invalid_number'],
    ['letters', '4242abcd42424242', 'invalid_number'],
    ['dots as separators', '4242.4242.4242.4242', 'invalid_number'],
    ['a tab', '4242\t4242424242424', 'invalid_number'],
    ['too short (11 digits)', '42424242420', 'invalid_number_length'],
    ['too long (20 digits)', '42424242424242424242', 'invalid_number_length'],
    ['wrong length for Visa (15)', '424242424242424', 'invalid_number_length'],
    ['wrong length for Amex (16)', '3782822463100052', 'invalid_number_length'],
    ['wrong length for Mastercard (19)', '5555555555555555556', 'invalid_number_length'],
    ['bad Luhn', '4242424242424241', 'incorrect_number'],
    ['bad Luhn (Mastercard)', '5555555555554445', 'incorrect_number'],
    ['unknown brand (Luhn-valid, starts with 9)', '9999999999999995', 'unsupported_brand'],
    ['unknown brand (just past the 2-series Mastercard range)', '2721000000000004', 'unsupported_brand'],
    ['unknown brand (Mastercard gap at 56)', '5600000000000003', 'unsupported_brand'],
  ])('%s', (_label, number, expected) => {
    const err = errorOf(card({ number }));
    expect(err.code).toBe(expected);
    expect(err.param).toBe('card.number');
  });

  it('rejects a number that is not a string', () => {
    expect(errorOf(card({ number: 4242424242424242 })).code).toBe('invalid_number');
    expect(errorOf(card({ number: undefined })).code).toBe('invalid_number');
  });

  it('is a real Error with a name, a code and a param', () => {
    const err = errorOf(card({ number: '4242424242424241' }));
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('CardValidationError');
    expect(err.message).toMatch(/[a-z]/);
  });
});

describe('validateCard: expiry errors', () => {
  it.each([
    ['month 0', 0],
    ['month 13', 13],
    ['non-integer month', 6.5],
    ['negative month', -1],
    ['NaN month', Number.NaN],
    ['month as a string', '6'],
  ])('rejects %s', (_label, exp_month) => {
    const err = errorOf(card({ exp_month }));
    expect(err.code).toBe('invalid_expiry_month');
    expect(err.param).toBe('card.exp_month');
  });

  it.each([
    ['2-digit year', 30],
    ['non-integer year', 2030.5],
    ['more than twenty years ahead', 2047],
    ['5-digit year', 20300],
    ['year as a string', '2030'],
  ])('rejects %s', (_label, exp_year) => {
    const err = errorOf(card({ exp_year }));
    expect(err.code).toBe('invalid_expiry_year');
    expect(err.param).toBe('card.exp_year');
  });

  it('accepts a year exactly twenty years ahead', () => {
    expect(validateCard(card({ exp_year: 2046 }), NOW).expYear).toBe(2046);
  });

  it('rejects a card that expired last month and accepts one expiring this month', () => {
    const err = errorOf(card({ exp_month: 2, exp_year: 2026 }));
    expect(err.code).toBe('expired_card');
    expect(err.param).toBe('card.exp_month');
    expect(validateCard(card({ exp_month: 3, exp_year: 2026 }), NOW).expMonth).toBe(3);
  });

  it('rejects a card that expired in an earlier year', () => {
    expect(errorOf(card({ exp_month: 12, exp_year: 2025 })).code).toBe('expired_card');
  });

  it('keeps a card valid through the last millisecond of its expiry month (UTC)', () => {
    const lastInstant = new Date('2026-03-31T23:59:59.999Z');
    const nextMonth = new Date('2026-04-01T00:00:00.000Z');
    expect(validateCard(card({ exp_month: 3, exp_year: 2026 }), lastInstant).expMonth).toBe(3);
    expect(errorOf(card({ exp_month: 3, exp_year: 2026 }), nextMonth).code).toBe('expired_card');
  });

  it('rolls December over into the next year', () => {
    const newYearsEve = new Date('2026-12-31T23:59:59.999Z');
    const newYear = new Date('2027-01-01T00:00:00.000Z');
    expect(validateCard(card({ exp_month: 12, exp_year: 2026 }), newYearsEve).expYear).toBe(2026);
    expect(errorOf(card({ exp_month: 12, exp_year: 2026 }), newYear).code).toBe('expired_card');
  });

  it('refuses an invalid clock instead of treating every card as unexpired', () => {
    expect(() => validateCard(card(), new Date(Number.NaN))).toThrow(TypeError);
  });
});

describe('validateCard: CVC errors', () => {
  it.each([
    ['3-digit CVC for Amex', '378282246310005', '123'],
    ['4-digit CVC for Visa', '4242424242424242', '1234'],
    ['4-digit CVC for Mastercard', '5555555555554444', '1234'],
    ['2-digit CVC for Discover', '6011111111111117', '12'],
    ['non-digit CVC', '4242424242424242', '12a'],
    ['CVC with a space', '4242424242424242', '12 3'],
    ['empty CVC', '4242424242424242', ''],
    ['CVC that is not a string', '4242424242424242', 123],
  ])('rejects %s', (_label, number, cvc) => {
    const err = errorOf(card({ number, cvc }));
    expect(err.code).toBe('invalid_cvc');
    expect(err.param).toBe('card.cvc');
  });

  it('has a CVC length for every brand: four for Amex, three for the others', () => {
    expect(CVC_LENGTH).toEqual({ visa: 3, mastercard: 3, amex: 4, discover: 3, jcb: 3, diners: 3 });
  });
});

describe('validateCard: order of checks', () => {
  it('reports the number before anything else', () => {
    const err = errorOf(card({ number: '4242424242424241', exp_month: 13, exp_year: 30, cvc: 'x' }));
    expect(err.code).toBe('incorrect_number');
  });

  it('reports the month before the year', () => {
    expect(errorOf(card({ exp_month: 13, exp_year: 30, cvc: 'x' })).code).toBe('invalid_expiry_month');
  });

  it('reports the year before expiry and the CVC', () => {
    expect(errorOf(card({ exp_year: 30, cvc: 'x' })).code).toBe('invalid_expiry_year');
  });

  it('reports expiry before the CVC', () => {
    expect(errorOf(card({ exp_month: 1, exp_year: 2026, cvc: 'x' })).code).toBe('expired_card');
  });
});

describe('validateCard: error messages never leak card data', () => {
  const failing: Array<Partial<Record<keyof CardInput, unknown>>> = [
    { number: '4242424242424241' },
    { number: '4242 4242 4242 4241' },
    { number: '4242abcd42424242' },
    { number: '424242424242424' },
    { number: '42424242424242424242' },
    { number: '9999999999999995' },
    { number: '3782822463100052' },
    { exp_month: 13 },
    { exp_year: 30 },
    { exp_month: 1, exp_year: 2026 },
    { number: '378282246310005', cvc: '56789' },
    { number: '378282246310005', cvc: '567' },
    { cvc: '9876' },
    { cvc: '98a' },
  ];

  it.each(failing)('input %#', (overrides) => {
    const input = card(overrides);
    const err = errorOf(input);
    const secrets = [String(input.number).replace(/\D/g, ''), String(input.cvc).replace(/\D/g, '')];
    const texts = [err.message, String(err), err.stack ?? '', JSON.stringify(err)];
    for (const text of texts) {
      for (const secret of secrets) {
        for (let i = 0; i + 4 <= secret.length; i++) {
          expect(text.includes(secret.slice(i, i + 4))).toBe(false);
        }
      }
    }
    // Stronger than required: messages carry no digits at all, so no fragment can ever leak.
    expect(err.message).not.toMatch(/\d/);
  });
});

describe('luhnValid', () => {
  it('accepts valid checksums and rejects invalid ones', () => {
    expect(luhnValid('4242424242424242')).toBe(true);
    expect(luhnValid('378282246310005')).toBe(true);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('4242424242424241')).toBe(false);
  });

  it('rejects empty and non-digit input', () => {
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('4242 4242 4242 4242')).toBe(false);
    expect(luhnValid('42a')).toBe(false);
  });
});

describe('detectBrand', () => {
  it.each([
    ['4', 'visa'],
    ['51', 'mastercard'],
    ['55', 'mastercard'],
    ['2221', 'mastercard'],
    ['2720', 'mastercard'],
    ['34', 'amex'],
    ['37', 'amex'],
    ['6011', 'discover'],
    ['644', 'discover'],
    ['649', 'discover'],
    ['65', 'discover'],
    ['622126', 'discover'],
    ['622925', 'discover'],
    ['3528', 'jcb'],
    ['3589', 'jcb'],
    ['300', 'diners'],
    ['36', 'diners'],
  ])('maps prefix %s to %s', (prefix, brand) => {
    expect(detectBrand(prefix.padEnd(16, '0'))).toBe(brand);
  });

  it.each(['50', '56', '2220', '2721', '35', '6010', '643', '622125', '622926', '9', '1'])(
    'knows no brand for prefix %s',
    (prefix) => {
      expect(detectBrand(prefix.padEnd(16, '0'))).toBeUndefined();
    },
  );

  it('rejects non-digit input', () => {
    expect(detectBrand('')).toBeUndefined();
    expect(detectBrand('4242-4242')).toBeUndefined();
  });
});

describe('lookupIssuingCountry', () => {
  it.each([
    ['4242424242424242', 'US'],
    ['5555555555554444', 'US'],
    ['378282246310005', 'US'],
    ['6011111111111117', 'US'],
    ['4000000000000002', 'US'],
    ['4100000000000019', 'US'],
  ])('knows sandbox card #%#', (pan, country) => {
    expect(lookupIssuingCountry(pan)).toBe(country);
  });

  it('takes the longest matching prefix', () => {
    expect(lookupIssuingCountry('4000000760000002')).toBe('BR');
    expect(lookupIssuingCountry('4000008260000000')).toBe('GB');
    expect(lookupIssuingCountry('4000000000000002')).toBe('US');
  });

  it('returns undefined for unknown BINs and non-digit input', () => {
    expect(lookupIssuingCountry('4111111111111111')).toBeUndefined();
    expect(lookupIssuingCountry('')).toBeUndefined();
    expect(lookupIssuingCountry('4242 4242')).toBeUndefined();
  });

  it('has digit prefixes and ISO 3166-1 alpha-2 countries only, without duplicates', () => {
    for (const [prefix, country] of BIN_COUNTRY_ENTRIES) {
      expect(prefix).toMatch(/^\d{1,11}$/);
      expect(country).toMatch(/^[A-Z]{2}$/);
    }
    const prefixes = BIN_COUNTRY_ENTRIES.map(([prefix]) => prefix);
    expect(new Set(prefixes).size).toBe(prefixes.length);
  });
});
