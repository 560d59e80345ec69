import { ApplicationFailure } from '@temporalio/activity';
import { AcquirerRejectedError, AcquirerUnavailableError } from '../acquirer/acquirer-client';

/**
 * How acquirer errors reach the workflow: a rejection is final (non-retryable, with the
 * acquirer's code as the failure type, so the workflow can compensate); unavailability is
 * retried by Temporal with backoff (DESIGN.md §4: transient only).
 */
export async function withAcquirerFailures<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof AcquirerRejectedError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    if (err instanceof AcquirerUnavailableError) throw ApplicationFailure.retryable(err.message, 'acquirer_unavailable');
    throw err;
  }
}
