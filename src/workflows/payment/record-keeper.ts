import { CancellationScope, condition } from '@temporalio/workflow';
import type { PaymentRecordWrite } from '../../records/record-write';
import { records } from './activities';
import type { PaymentContext } from './context';

export interface RecordKeeper {
  /** Resolves once the record reflects everything the payment shows now; `final` marks it as the last write. */
  flush(final: boolean): Promise<void>;
}

/**
 * Keeps the payment's record (src/records) up with the workflow: whenever the payment differs
 * from what the record last took, the records worker is sent what changed — the payment's fields,
 * the refunds that changed, the timeline entries added. Runs beside the main flow and never holds
 * it up; writes go one at a time, in order, and coalesce (a write carries every change made while
 * the previous one was in flight). A record is therefore never ahead of the workflow, and at most
 * one write behind it; the last write, before the workflow closes, marks it final.
 */
export function keepRecord(ctx: PaymentContext): RecordKeeper {
  const { state } = ctx;
  /** The last write that landed, and what it carried. */
  let written = 0;
  let sentEvents = 0;
  let sentPayment = '';
  let finalWanted = false;
  let finalWritten = false;
  /** Each refund as the record has it (JSON), to send only those that changed. */
  const sentRefunds = new Map<string, string>();
  const paymentPart = () => {
    const { timeline: _timeline, ...rest } = state;
    return JSON.stringify(rest);
  };
  // A change with no timeline entry of its own (a field set beside a transition) is a change too.
  const behind = () => state.timeline.length > sentEvents || (finalWanted && !finalWritten) || paymentPart() !== sentPayment;

  async function writeOnce(): Promise<void> {
    const revision = written + 1;
    const final = finalWanted;
    const upTo = state.timeline.length;
    const snapshot = paymentPart();
    const { refunds, ...payment } = JSON.parse(snapshot) as Omit<typeof state, 'timeline'>;
    const all = refunds.map((refund, position) => ({ position, refund }));
    const changed = all.filter(({ refund }) => sentRefunds.get(refund.id) !== JSON.stringify(refund));
    const write: PaymentRecordWrite = { base: written, revision, final, payment, refunds: changed, eventsFrom: sentEvents, events: state.timeline.slice(sentEvents, upTo) };
    const result = await records.recordPayment(write);
    // The record is not the one this delta was computed from (purged, or written by hand): send it whole.
    if (result === 'gap') await records.recordPayment({ ...write, base: 0, refunds: all, eventsFrom: 0, events: state.timeline.slice(0, upTo) });
    for (const { refund } of all) sentRefunds.set(refund.id, JSON.stringify(refund));
    written = revision;
    sentEvents = upTo;
    sentPayment = snapshot;
    if (final) finalWritten = true;
  }

  // Shielded like the main flow: cancelling the workflow (the Web UI's Request Cancellation) is a
  // request the payment acts on, and its record must follow what it does about it.
  void CancellationScope.nonCancellable(async () => {
    for (;;) {
      await condition(behind);
      await writeOnce();
    }
  });

  return {
    async flush(final) {
      finalWanted ||= final;
      await CancellationScope.nonCancellable(() => condition(() => !behind()));
    },
  };
}
