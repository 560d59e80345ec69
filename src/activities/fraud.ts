import { createReadinessActivities } from './readiness';

/**
 * Activities of the fraud task queue: scoring and feedback (DESIGN.md §2).
 * The rules engine arrives with the payment lifecycle issue; until then the queue serves the
 * readiness probe only.
 */
export function createFraudActivities() {
  return { ...createReadinessActivities() };
}

export type FraudActivities = ReturnType<typeof createFraudActivities>;
