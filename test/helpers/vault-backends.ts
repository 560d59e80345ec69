import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Db } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';
import { PostgresDb } from '../../src/storage/postgres-db';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { startPostgres, type PostgresServer } from './postgres';

/**
 * The two databases the vault runs on, for suites that must pass against both. A test gets a
 * fresh, migrated database; `inspect` reads its tables directly, behind the vault's back.
 */
export interface TestDatabase {
  db: Db;
  /** Raw bytes of everything stored: the SQLite files, or every row of every PostgreSQL table. */
  rawContent(): Promise<Buffer>;
  close(): Promise<void>;
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  create(): Promise<TestDatabase>;
  stop(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-sqlite-'));
  return {
    name: 'sqlite',
    async create() {
      const file = path.join(dir, `vault-${randomBytes(4).toString('hex')}.db`);
      const db = SqliteDb.open(file);
      await migrate(db);
      return {
        db,
        async rawContent() {
          return Buffer.concat(
            fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(file))).map((f) => fs.readFileSync(path.join(dir, f))),
          );
        },
        close: () => db.close(),
      };
    },
    async stop() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(): Backend {
  let server: PostgresServer | undefined;
  return {
    name: 'postgres',
    async create() {
      server ??= await startPostgres({ database: 'vault_admin' });
      const database = `vault_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${database}`);
      await admin.end();
      const url = server.url.replace(/\/[^/]+$/, `/${database}`);
      const db = PostgresDb.open(url);
      await migrate(db);
      return {
        db,
        async rawContent() {
          const tables = await db.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
          const parts: Buffer[] = [];
          for (const { tablename } of tables) {
            for (const row of await db.query<Record<string, unknown>>(`SELECT * FROM ${tablename}`)) {
              for (const value of Object.values(row)) parts.push(Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
            }
          }
          return Buffer.concat(parts);
        },
        close: () => db.close(),
      };
    },
    async stop() {
      await server?.stop();
    },
  };
}
