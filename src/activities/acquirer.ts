import { createReadinessActivities } from './readiness';

/**
 * Activities of the acquirer task queue: capture, void, refund, settle, with acquirer
 * references only, never card data (DESIGN.md §2). They arrive with the payment lifecycle issue;
 * until then the queue serves the readiness probe only.
 */
export function createAcquirerActivities() {
  return { ...createReadinessActivities() };
}

export type AcquirerActivities = ReturnType<typeof createAcquirerActivities>;
