import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Db } from './db';

/**
 * SQLite through better-sqlite3. Calls are synchronous underneath; a promise chain serialises
 * transactions so that two async callers never interleave statements inside one.
 */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  private tail: Promise<unknown> = Promise.resolve();
  /** Prepared once per SQL text: preparing is a large part of a small statement's cost. */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(private readonly db: Database.Database) {}

  static open(file: string): SqliteDb {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    // Deleted rows are overwritten with zeros, so a purged CVV and its key leave no bytes in the file.
    db.pragma('secure_delete = ON');
    return new SqliteDb(db);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    await this.tail;
    return this.runQuery<T>(sql, params);
  }

  async execute(sql: string, params: unknown[] = []): Promise<number> {
    await this.tail;
    return this.runExecute(sql, params);
  }

  async executeScript(sql: string): Promise<void> {
    await this.tail;
    this.db.exec(sql);
  }

  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    const run = async () => {
      this.db.exec('BEGIN IMMEDIATE');
      const tx: Db = {
        dialect: 'sqlite',
        query: async (sql, params = []) => this.runQuery(sql, params),
        execute: async (sql, params = []) => this.runExecute(sql, params),
        executeScript: async (sql) => void this.db.exec(sql),
        transaction: (inner) => inner(tx),
        close: async () => undefined,
      };
      try {
        const result = await work(tx);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    await this.tail;
    this.db.close();
  }

  private runQuery<T>(sql: string, params: unknown[]): T[] {
    return this.prepare(sql).all(named(params)) as T[];
  }

  private runExecute(sql: string, params: unknown[]): number {
    return this.prepare(sql).run(named(params)).changes;
  }

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql.replace(/\$(\d+)/g, '@p$1'));
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

function named(params: unknown[]): Record<string, unknown> {
  return Object.fromEntries(params.map((value, i) => [`p${i + 1}`, typeof value === 'boolean' ? Number(value) : value]));
}
