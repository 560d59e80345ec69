import type { Db } from './db';
import type { Migration } from './migrations/migration';
import { migration as vault } from './migrations/001-vault';
import { migration as auditLog } from './migrations/002-audit-log';
import { migration as fraud } from './migrations/003-fraud';
import { migration as fraudFeatures } from './migrations/004-fraud-features';
import { migration as paymentRecords } from './migrations/005-payment-records';
import { migration as merchantLedger } from './migrations/006-merchant-ledger';
import { migration as reconciliation } from './migrations/007-reconciliation';
import { migration as stripeCompat } from './migrations/008-stripe-compat';
import { migration as webhooks } from './migrations/009-webhooks';
import { migration as auditLookups } from './migrations/010-audit-lookups';
import { migration as sealedVault } from './migrations/011-sealed-vault';
import { migration as fraudCheckContext } from './migrations/012-fraud-check-context';

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [vault, auditLog, fraud, fraudFeatures, paymentRecords, merchantLedger, reconciliation, stripeCompat, webhooks, auditLookups, sealedVault, fraudCheckContext];

/**
 * Brings the schema up to date. Safe when several processes start at once (API and vault worker):
 * PostgreSQL takes an advisory lock, SQLite's write transaction is exclusive, and each migration
 * is re-checked inside the lock.
 */
export async function migrate(db: Db): Promise<number[]> {
  await db.execute(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
  );
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    await db.transaction(async (tx) => {
      if (tx.dialect === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(8127364501)');
      const done = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [migration.version]);
      if (done.length > 0) return;
      await tx.executeScript(migration[tx.dialect]);
      await tx.execute('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        Date.now(),
      ]);
      applied.push(migration.version);
    });
  }
  return applied;
}
