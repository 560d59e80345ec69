import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

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
  /** The money step a payment waits on while the acquirer does not answer (DESIGN.md §4a); absent otherwise. */
  AwaitingAcquirer: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof PAYMENT_SEARCH_ATTRIBUTES;

/** `--search-attribute` flags for `temporal server start-dev`. */
export function devServerSearchAttributeArgs(): string[] {
  return Object.entries(PAYMENT_SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}

const INDEXED_VALUE_TYPE = {
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
} as const;

/**
 * Registers the payment search attributes on a cluster that lacks them (self-hosted Temporal;
 * Temporal Cloud registers them with `tcld` instead). Idempotent: returns the ones it added.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(PAYMENT_SEARCH_ATTRIBUTES).filter(([name]) => !(name in (existing.customAttributes ?? {})));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]])),
  });
  return missing.map(([name]) => name);
}
