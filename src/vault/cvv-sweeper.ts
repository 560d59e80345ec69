import type { Logger } from '../logging/logger';
import type { Metrics } from '../observability/metrics';
import type { Vault } from './vault';

/**
 * The time-to-live backstop for CVVs (DESIGN.md §3, invariant 3): runs in the vault worker and
 * destroys any CVV (and card intake) that outlived its TTL because no payment ever used it, then
 * keeps the CVV epoch keys going (a new epoch before the current closes, finished ones destroyed).
 */
export function startCvvSweeper(vault: Vault, intervalMs: number, logger: Logger, metrics?: Pick<Metrics, 'recordSweep'>): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const sweep = async () => {
    try {
      const swept = await vault.sweepExpired();
      metrics?.recordSweep(swept);
      const { cvvs, intakes } = swept;
      if (cvvs.length || intakes) logger.info({ expiredCvvs: cvvs.length, expiredIntakes: intakes }, 'destroyed expired CVVs and intakes');
      // After the sweep, so an epoch whose last CVV just expired is destroyed in the same round.
      const epochs = await vault.maintainCvvEpochs();
      if (epochs.created || epochs.destroyed.length) logger.info({ createdCvvEpoch: epochs.created, destroyedCvvEpochs: epochs.destroyed }, 'CVV epoch keys: new epoch published, finished ones destroyed');
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'CVV sweep failed; retrying at the next interval');
    }
  };
  const timer = setInterval(() => {
    running = running.then(sweep);
  }, intervalMs);
  running = sweep();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
