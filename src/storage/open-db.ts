import path from 'node:path';
import type { Db } from './db';
import { migrate } from './migrate';
import { PostgresDb } from './postgres-db';
import { SqliteDb } from './sqlite-db';

/**
 * The vault's database: PostgreSQL when DATABASE_URL is set, otherwise a SQLite file under
 * DATA_DIR. Migrated on open, so a process never runs against an older schema.
 */
export async function openDb(options: { databaseUrl?: string; dataDir: string }): Promise<Db> {
  const db = options.databaseUrl ? PostgresDb.open(options.databaseUrl) : SqliteDb.open(path.join(options.dataDir, 'vault.db'));
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
