import type { PaymentState, Refund, TimelineEvent } from '../workflows/payment/state';

/**
 * One write of a payment's record, as the workflow sends it to the records worker: the payment
 * without its refunds and timeline, the refunds that changed and the timeline entries added since
 * the last write. Deltas keep the history of a payment with many refunds small (each write carries
 * what changed, not the whole payment again).
 *
 * `revision` numbers the workflow's writes (1, 2, …), `base` is the last one that landed: the write
 * applies on top of exactly that record, once. Pure types: the workflow imports them.
 */
export interface PaymentRecordWrite {
  base: number;
  revision: number;
  /** The index in the timeline of `events[0]`. */
  eventsFrom: number;
  /** The workflow's last write: nothing changes the payment after it. */
  final: boolean;
  payment: Omit<PaymentState, 'refunds' | 'timeline'>;
  /** The refunds that changed, with their place in the payment's list. */
  refunds: { position: number; refund: Refund }[];
  /** Timeline entries from `eventsFrom` on. */
  events: TimelineEvent[];
}

/** `applied`: the record now reflects `revision`; `stale`: it already did (a retry); `gap`: it lacks what `base` assumes, send everything. */
export type RecordWriteResult = 'applied' | 'stale' | 'gap';
