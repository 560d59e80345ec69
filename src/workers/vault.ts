/**
 * `npm run worker:vault`: the card data environment. The only process that can decrypt card data:
 * it alone opens the card key provider (the master key file, or KMS with `kms:Decrypt`), from which
 * it unwraps the intake private key and the fingerprint secret, and it alone holds the CVV epoch
 * keys, in memory (DESIGN.md §2, §3a).
 */
import { createVaultActivities } from '../activities/vault';
import { acquirerFromEnv } from '../acquirer/acquirer-from-env';
import { exitOnFailure } from '../process/lifecycle';
import { startCvvSweeper } from '../vault/cvv-sweeper';
import { openKeyProvider } from '../vault/keys/open-key-provider';
import { openVault } from '../vault/open-vault';
import { runWorkerProcess } from './run-worker';

exitOnFailure(
  'worker:vault',
  runWorkerProcess('vault', async ({ env, logger, metrics }) => {
    const keys = await openKeyProvider(env);
    const { db, vault } = await openVault(env, keys);
    logger.info(
      { keyProvider: keys.kind, database: db.dialect, masterKey: keys.currentKey(), cvvEpochOwner: vault.cvvEpochs.owner },
      'vault open; master key verified; intake key and CVV epoch published',
    );
    const sweeper = startCvvSweeper(vault, env.CVV_SWEEP_INTERVAL_SECONDS * 1000, logger, metrics);
    return {
      activities: createVaultActivities({ vault, acquirer: acquirerFromEnv(env) }),
      close: async () => {
        await sweeper.stop();
        await vault.cvvEpochs.dropAll();
        await db.close();
      },
    };
  }),
);
