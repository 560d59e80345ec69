/**
 * Custom search attributes that make a payment findable in the Web UI and through the
 * visibility API (DESIGN.md §2). Registered by the embedded dev server at start-up and by
 * `ensureSearchAttributes` on any other cluster.
 */
export const PAYMENT_SEARCH_ATTRIBUTES = {
  MerchantId: 'Keyword',
  PaymentStatus: 'Keyword',
  AmountMinor: 'Int',
  Currency: 'Keyword',
  CardBrand: 'Keyword',
  CardLast4: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof PAYMENT_SEARCH_ATTRIBUTES;

/** `--search-attribute` flags for `temporal server start-dev`. */
export function devServerSearchAttributeArgs(): string[] {
  return Object.entries(PAYMENT_SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}
