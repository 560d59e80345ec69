import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Typed keys of the payment search attributes (registered by ./search-attributes.ts). Pure, so the
 * workflow bundle can import it.
 */
export const SA = {
  merchantId: defineSearchAttributeKey('MerchantId', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('PaymentStatus', SearchAttributeType.KEYWORD),
  amount: defineSearchAttributeKey('AmountMinor', SearchAttributeType.INT),
  currency: defineSearchAttributeKey('Currency', SearchAttributeType.KEYWORD),
  cardBrand: defineSearchAttributeKey('CardBrand', SearchAttributeType.KEYWORD),
  cardLast4: defineSearchAttributeKey('CardLast4', SearchAttributeType.KEYWORD),
  awaitingAcquirer: defineSearchAttributeKey('AwaitingAcquirer', SearchAttributeType.KEYWORD),
} as const;
