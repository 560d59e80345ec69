import type { Env } from '../config/env';
import { AuditLog } from '../audit/audit-log';
import type { Db } from '../storage/db';
import { openDb } from '../storage/open-db';
import type { CachingKeyProvider } from './keys/data-key-cache';
import { Vault } from './vault';

export interface VaultRuntime {
  db: Db;
  keys: CachingKeyProvider;
  audit: AuditLog;
  vault: Vault;
}

/** Everything the vault worker needs, from the configuration; fails at start-up on a wrong key. */
export async function openVault(env: Env, keys: CachingKeyProvider): Promise<VaultRuntime> {
  const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
  try {
    const audit = new AuditLog(db);
    const sweepMs = env.CVV_SWEEP_INTERVAL_SECONDS * 1000;
    // An epoch's seal window spans several sweeps (which renew it) and never exceeds the CVV TTL by much.
    const cvvEpochs = { sealWindowMs: Math.min(5 * 60_000, env.CVV_TTL_MINUTES * 60_000), maintenanceIntervalMs: sweepMs };
    return { db, keys, audit, vault: await Vault.open(db, keys, audit, { cvvEpochs }) };
  } catch (err) {
    await db.close();
    throw err;
  }
}
