/**
 * The task queues of the gateway, one worker process each (DESIGN.md §2).
 * Least privilege follows the queue: only the vault worker holds card keys, only the
 * acquirer worker talks to the acquirer, the records worker alone writes the payment records, and
 * the payments worker runs workflows and holds no keys.
 */
export const TASK_QUEUES = {
  payments: 'payments',
  vault: 'vault',
  fraud: 'fraud',
  acquirer: 'acquirer',
  records: 'records',
} as const;

export type TaskQueueName = keyof typeof TASK_QUEUES;

/** The queues served by activity workers; the readiness probe pings each of them. */
export const ACTIVITY_QUEUES = ['vault', 'fraud', 'acquirer', 'records'] as const satisfies readonly TaskQueueName[];
export type ActivityQueueName = (typeof ACTIVITY_QUEUES)[number];

export const ALL_QUEUES = Object.keys(TASK_QUEUES) as TaskQueueName[];

export function isTaskQueueName(name: string): name is TaskQueueName {
  return Object.hasOwn(TASK_QUEUES, name);
}
