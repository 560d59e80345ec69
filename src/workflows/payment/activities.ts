import { proxyActivities } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { AcquirerActivities } from '../../activities/acquirer';
import type { FraudActivities } from '../../activities/fraud';
import type { RecordsActivities } from '../../activities/records';
import type { VaultActivities } from '../../activities/vault';
import { TASK_QUEUES } from '../../temporal/task-queues';

/**
 * The activities a payment calls, with the retry policy each kind of call needs. Start-to-close
 * timeouts are a little above the acquirer client's 10 s HTTP timeout: a call whose worker died
 * is retried after this long, so it must be short (DESIGN.md §6, crash test).
 */

/** Transient failures are retried with backoff; anything the activity marks non-retryable is final. */
const transientRetry: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8 };

/**
 * A money call is sent a few times with the same idempotency key; when the attempts run out its
 * outcome is *unknown*, not failed, and ./known-outcome.ts asks the acquirer what happened.
 */
const moneyCallRetry: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 };

/** Until the acquirer answers: inquiries, reversals and CVV purges must reach a known end. */
const untilAnswered: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' };

export const vault = proxyActivities<Pick<VaultActivities, 'tokenize' | 'retainCvv'>>({
  taskQueue: TASK_QUEUES.vault,
  startToCloseTimeout: '15s',
  retry: transientRetry,
});

/** Authorization proxies card data to the acquirer, from the vault worker: a money call. */
export const vaultAuthorization = proxyActivities<Pick<VaultActivities, 'authorize'>>({
  taskQueue: TASK_QUEUES.vault,
  startToCloseTimeout: '15s',
  retry: moneyCallRetry,
});

/** Purging a CVV is retried until it succeeds (DESIGN.md §4); the TTL sweeper is the backstop. */
export const cvv = proxyActivities<Pick<VaultActivities, 'purgeCvv'>>({
  taskQueue: TASK_QUEUES.vault,
  startToCloseTimeout: '10s',
  retry: untilAnswered,
});

export const fraud = proxyActivities<Pick<FraudActivities, 'checkFraud'>>({
  taskQueue: TASK_QUEUES.fraud,
  startToCloseTimeout: '10s',
  retry: { ...transientRetry, maximumAttempts: 5 },
});

export const money = proxyActivities<Pick<AcquirerActivities, 'capturePayment' | 'voidAuthorization' | 'refundPayment' | 'settlePayment'>>({
  taskQueue: TASK_QUEUES.acquirer,
  startToCloseTimeout: '15s',
  retry: moneyCallRetry,
});

export const inquiry = proxyActivities<Pick<AcquirerActivities, 'inquireAuthorization' | 'inquireMovement' | 'reverseAuthorization'>>({
  taskQueue: TASK_QUEUES.acquirer,
  startToCloseTimeout: '15s',
  retry: untilAnswered,
});

/** The payment's record (src/records): written after every transition until it lands. */
export const records = proxyActivities<Pick<RecordsActivities, 'recordPayment'>>({
  taskQueue: TASK_QUEUES.records,
  startToCloseTimeout: '10s',
  retry: untilAnswered,
});
