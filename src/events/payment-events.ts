import { createHash } from 'node:crypto';
import { chargeObjectOfPayment, intentObjectOfPayment, refundObject } from '../api/stripe/objects';
import type { Db } from '../storage/db';
import type { PaymentState, Refund, TimelineEvent } from '../workflows/payment/state';

/** The event types every payment emits (docs/stripe-compat.md, "Webhooks and events"). */
export const EVENT_TYPES = [
  'payment_intent.created',
  'payment_intent.amount_capturable_updated',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'charge.refunded',
  'refund.created',
  'refund.updated',
  'refund.failed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What each transition of the payment (its timeline's `payment.<status>` entries) is, as an event. */
const TRANSITION_EVENTS: Partial<Record<string, EventType>> = {
  'payment.requires_capture': 'payment_intent.amount_capturable_updated',
  'payment.captured': 'payment_intent.succeeded',
  'payment.declined': 'payment_intent.payment_failed',
  'payment.failed': 'payment_intent.payment_failed',
  'payment.canceled': 'payment_intent.canceled',
};

/** Events are ordered per stream: a payment intent's (all its confirmations), or a /v1/payments payment's. */
export const streamOf = (payment: Pick<PaymentState, 'id' | 'metadata'>): string => payment.metadata.payment_intent ?? payment.id;

/** A stable id: the same transition seen again (a retried write, a full write after a gap) is the same event. */
export const eventIdOf = (...parts: string[]): string => `evt_${createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 24)}`;

export interface NewEvent {
  id: string;
  merchantId: string;
  stream: string;
  type: EventType;
  object: unknown;
  at: number;
}

/**
 * Appends events to a stream, exactly once per id, numbered in the order they are appended. Runs
 * in the caller's transaction: the record write (a payment's writes never run at once) or the API
 * creating an intent (before any payment of it exists).
 */
export async function appendEvents(tx: Db, events: readonly NewEvent[]): Promise<number> {
  let added = 0;
  for (const e of events) {
    const [exists] = await tx.query('SELECT 1 FROM stripe_events WHERE id = $1', [e.id]);
    if (exists) continue;
    const [last] = await tx.query<{ seq: number | string | null }>('SELECT MAX(seq) AS seq FROM stripe_events WHERE stream = $1', [e.stream]);
    await tx.execute(
      'INSERT INTO stripe_events (id, merchant_id, stream, seq, type, object, created_at, dispatched) VALUES ($1, $2, $3, $4, $5, $6, $7, 0)',
      [e.id, e.merchantId, e.stream, Number(last?.seq ?? 0) + 1, e.type, JSON.stringify(e.object), e.at],
    );
    added++;
  }
  return added;
}

/**
 * The events one record write shows, posted with it (src/records/payment-records.ts): one per
 * transition in the write's new timeline entries, and per refund one for each state it reached.
 * A payment made for an intent does not emit `payment_intent.created`: the intent did, when it was
 * created (src/api/stripe/payment-intents.ts).
 */
export async function emitPaymentEvents(
  tx: Db,
  payment: Omit<PaymentState, 'timeline' | 'refunds'>,
  timeline: { from: number; events: readonly TimelineEvent[] },
  refunds: readonly Refund[],
  now: number,
): Promise<number> {
  const stream = streamOf(payment);
  const intent = () => intentObjectOfPayment(payment, now);
  const events: NewEvent[] = [];
  const base = { merchantId: payment.merchantId, stream };
  for (const [i, entry] of timeline.events.entries()) {
    const seq = timeline.from + i;
    const at = Date.parse(entry.at) || now;
    if (entry.event === 'payment.created' && !payment.metadata.payment_intent) {
      events.push({ ...base, id: eventIdOf(payment.id, 'timeline', String(seq)), type: 'payment_intent.created', object: intent(), at });
    }
    const type = TRANSITION_EVENTS[entry.event];
    if (type) events.push({ ...base, id: eventIdOf(payment.id, 'timeline', String(seq)), type, object: intent(), at });
  }
  for (const refund of refunds) {
    // Only the refunds a merchant asked for: the gateway's own reversals are not refund objects.
    if (!/^re_[A-Za-z0-9]{24}$/.test(refund.id)) continue;
    const [row] = await tx.query<{ reason: string | null; metadata: string }>('SELECT reason, metadata FROM stripe_refunds WHERE id = $1', [refund.id]);
    const object = refundObject(
      { id: refund.id, amount: refund.amount, status: refund.status, failure_reason: refund.failureReason ?? null, created: refund.createdAt },
      { id: stream, currency: payment.currency, paymentId: payment.id },
      { reason: row?.reason ?? null, metadata: row ? (JSON.parse(row.metadata) as Record<string, string>) : {} },
    );
    const at = now;
    const key = (type: string) => eventIdOf(payment.id, 'refund', refund.id, type);
    events.push({ ...base, id: key('refund.created'), type: 'refund.created', object: { ...object, status: 'pending', failure_reason: null }, at });
    if (refund.status === 'succeeded') {
      events.push({ ...base, id: key('refund.updated'), type: 'refund.updated', object, at });
      events.push({ ...base, id: key('charge.refunded'), type: 'charge.refunded', object: chargeObjectOfPayment(payment), at });
    }
    if (refund.status === 'failed') events.push({ ...base, id: key('refund.failed'), type: 'refund.failed', object, at });
  }
  return appendEvents(tx, events);
}
