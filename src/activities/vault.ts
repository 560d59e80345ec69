import { createReadinessActivities } from './readiness';

/**
 * Activities of the vault task queue: the only code that can decrypt card data (DESIGN.md §2).
 * Tokenize, authorize and CVV purge arrive with the card vault issue; until then the queue
 * serves the readiness probe only.
 */
export function createVaultActivities() {
  return { ...createReadinessActivities() };
}

export type VaultActivities = ReturnType<typeof createVaultActivities>;
