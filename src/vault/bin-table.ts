/**
 * Issuing country by BIN (IIN) prefix.
 *
 * This is a SAMPLE table: it covers the sandbox test cards and a few country examples so that
 * development, tests and demos get a realistic `issuingCountry`. A production deployment loads a
 * licensed BIN file (from the card networks or a BIN data vendor) instead, because real BIN
 * assignments change every month and an outdated table silently mislabels cards for fraud rules.
 *
 * Prefixes have different lengths on purpose: lookups take the longest matching prefix, so a
 * narrow range (e.g. a country-specific test BIN) can override the broader range that contains it.
 */
const SAMPLE_BIN_COUNTRIES: ReadonlyArray<readonly [prefix: string, country: string]> = [
  // Sandbox test cards (all issued "in" the US, as in the usual acquirer sandboxes).
  ['424242', 'US'],
  ['400000', 'US'],
  ['410000', 'US'],
  ['401288', 'US'],
  ['422222', 'US'],
  ['555555', 'US'],
  ['520082', 'US'],
  ['222300', 'US'],
  ['378282', 'US'],
  ['371449', 'US'],
  ['601111', 'US'],
  ['601100', 'US'],
  ['305693', 'US'],
  ['356600', 'JP'],
  // Country-specific sandbox cards: they live inside 400000 (US), hence the longer prefixes.
  ['400000076', 'BR'],
  ['400000124', 'CA'],
  ['400000484', 'MX'],
  ['400000826', 'GB'],
  ['400000276', 'DE'],
  ['400000250', 'FR'],
  ['400000392', 'JP'],
  ['400000036', 'AU'],
];

const TABLE: ReadonlyMap<string, string> = new Map(SAMPLE_BIN_COUNTRIES);
const LONGEST_PREFIX = Math.max(...SAMPLE_BIN_COUNTRIES.map(([prefix]) => prefix.length));

/** The table's entries, for checks on its shape; lookups go through `lookupIssuingCountry`. */
export const BIN_COUNTRY_ENTRIES = SAMPLE_BIN_COUNTRIES;

/**
 * The ISO 3166-1 alpha-2 country of the card's issuer, by longest-prefix match, or undefined when
 * the BIN is not in the table (an unknown country is normal and must not fail a payment).
 */
export function lookupIssuingCountry(pan: string): string | undefined {
  if (!/^\d+$/.test(pan)) return undefined;
  for (let length = Math.min(LONGEST_PREFIX, pan.length); length > 0; length--) {
    const country = TABLE.get(pan.slice(0, length));
    if (country !== undefined) return country;
  }
  return undefined;
}
