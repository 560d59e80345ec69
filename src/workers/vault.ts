/**
 * `npm run worker:vault`: the card data environment. The only process that can decrypt card data:
 * it holds the key provider's unwrap rights and the fingerprint secret (DESIGN.md §2).
 */
import { createVaultActivities } from '../activities/vault';
import { acquirerFromEnv } from '../acquirer/acquirer-from-env';
import { exitOnFailure } from '../process/lifecycle';
import { startCvvSweeper } from '../vault/cvv-sweeper';
import { openVault } from '../vault/open-vault';
import { runWorkerProcess } from './run-worker';

exitOnFailure(
  'worker:vault',
  runWorkerProcess('vault', async ({ env, logger, keys, metrics }) => {
    const { db, vault } = await openVault(env, keys);
    logger.info({ keyProvider: keys.kind, database: db.dialect, masterKey: keys.currentKey() }, 'vault open; master key verified');
    const sweeper = startCvvSweeper(vault, env.CVV_SWEEP_INTERVAL_SECONDS * 1000, logger, metrics);
    return {
      activities: createVaultActivities({ vault, acquirer: acquirerFromEnv(env) }),
      close: async () => {
        await sweeper.stop();
        await db.close();
      },
    };
  }),
);
