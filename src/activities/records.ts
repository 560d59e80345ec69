import { ApplicationFailure } from '@temporalio/activity';
import type { AuditLog } from '../audit/audit-log';
import type { PaymentRecords } from '../records/payment-records';
import type { PaymentRecordWrite, RecordWriteResult } from '../records/record-write';
import { createReadinessActivities } from './readiness';
import { streamOf } from '../events/payment-events';

export interface RecordsActivityDependencies {
  records: PaymentRecords;
  /** The purge is audited (DESIGN.md §3, invariant 7). */
  audit: AuditLog;
  onWrite?: (result: RecordWriteResult) => void;
  /**
   * Hands the stream's new events to webhook delivery (src/events/dispatch.ts). Runs after every
   * write, applied or not: a write retried after its dispatch failed dispatches then.
   */
  dispatch?: (stream: string) => Promise<unknown>;
}

/**
 * The records task queue (src/workers/records.ts): the payment records are written here, at every
 * transition the workflow makes, and nowhere else (never by the API).
 */
export function createRecordsActivities({ records, audit, onWrite, dispatch }: RecordsActivityDependencies) {
  return {
    ...createReadinessActivities(),

    /** Idempotent per (payment, revision): a retried write, or one that arrives late, changes nothing. */
    async recordPayment(write: PaymentRecordWrite): Promise<RecordWriteResult> {
      if (!(write.revision > write.base && write.base >= 0 && write.eventsFrom >= 0)) {
        throw ApplicationFailure.nonRetryable(`record write of ${write.payment.id} is inconsistent (base ${write.base}, revision ${write.revision}, events from ${write.eventsFrom})`, 'invalid_record_write');
      }
      const result = await records.write(write);
      onWrite?.(result);
      await dispatch?.(streamOf(write.payment));
      return result;
    },

    /** Deletes the records past RECORDS_RETENTION_DAYS, one audit row per payment, in one transaction. */
    async purgeExpiredRecords(): Promise<{ purged: number }> {
      const purged = await records.purge(Date.now(), async (tx, ids) => {
        for (const paymentId of ids) await audit.append({ actor: 'worker:records', action: 'records.purge', paymentId, outcome: 'success', details: { reason: 'retention' } }, tx);
      });
      return { purged: purged.length };
    },
  };
}

export type RecordsActivities = ReturnType<typeof createRecordsActivities>;
