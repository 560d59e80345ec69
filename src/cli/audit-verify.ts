/**
 * `npm run audit:verify`: walks the hash-chained audit log (src/audit/audit-log.ts) from its
 * first row and checks every link and every row's hash.
 *
 * Opens the same database as the services (DATABASE_URL, else SQLite under DATA_DIR) and prints
 * `audit log OK: N rows` (exit 0), or names the first broken row:
 * `audit log BROKEN at row <seq>: <reason>` (exit 1). A row edited, deleted or inserted by
 * someone who bypassed the append-only triggers breaks the chain at that row.
 * Any other failure (no database, bad configuration) exits 2, so a script can tell them apart.
 * The verdict goes to stdout; failures to run go to stderr.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AuditLog } from '../audit/audit-log';
import { loadEnv } from '../config/env';
import { openDb } from '../storage/open-db';

async function main(): Promise<number> {
  const env = loadEnv();
  // Verifying must not create an empty database where none was (a wrong DATA_DIR would read "OK: 0 rows").
  const sqliteFile = path.join(env.DATA_DIR, 'vault.db');
  if (!env.DATABASE_URL && !fs.existsSync(sqliteFile)) throw new Error(`no database at ${sqliteFile} (set DATA_DIR, or DATABASE_URL for PostgreSQL)`);
  const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
  try {
    const result = await new AuditLog(db).verify();
    if (result.ok) {
      console.log(`audit log OK: ${result.rows} rows`);
      return 0;
    }
    console.log(`audit log BROKEN at row ${result.brokenAt}: ${result.reason}`);
    return 1;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`audit:verify failed: ${err.message}`);
    process.exitCode = 2;
  },
);
