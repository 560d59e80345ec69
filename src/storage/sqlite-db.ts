import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Db } from './db';

/**
 * WAL checkpoints off the request path. SQLite checkpoints in the connection whose commit takes the
 * WAL past `wal_autocheckpoint` pages (1000 by default): that commit copies the WAL into the database
 * file and fsyncs it, tens of milliseconds on a busy disk, and it is one commit in every hundred or so
 * (the p99 of a fraud check, issue 9). Instead, a thread with its own connection runs a PASSIVE
 * checkpoint (which never blocks readers or writers) every `CHECKPOINT_INTERVAL_MS`, and the
 * connection's own automatic checkpoint is kept only as a backstop for a WAL the thread cannot keep up
 * with. The thread starts after `CHECKPOINT_THREAD_AFTER` write transactions, so a short-lived
 * connection (a CLI, a test) never starts one. Durability is unchanged: every commit is still synced
 * as before (synchronous=FULL); only the copy into the main file moves.
 */
const CHECKPOINT_INTERVAL_MS = 100;
const CHECKPOINT_THREAD_AFTER = 64;
const BACKSTOP_AUTOCHECKPOINT_PAGES = 10_000;

const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage(String(err && err.message)); }
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

/**
 * SQLite through better-sqlite3. Calls are synchronous underneath; a promise chain serialises
 * transactions so that two async callers never interleave statements inside one.
 */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  private tail: Promise<unknown> = Promise.resolve();
  /** Prepared once per SQL text: preparing is a large part of a small statement's cost. */
  private readonly statements = new Map<string, Database.Statement>();

  /** Write transactions committed, until the checkpoint thread starts. */
  private commits = 0;
  private checkpointer: Worker | undefined;
  private checkpointerFailed = false;

  private constructor(
    private readonly db: Database.Database,
    private readonly file: string | undefined,
  ) {}

  static open(file: string): SqliteDb {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    // Deleted rows are overwritten with zeros, so a purged CVV and its key leave no bytes in the file.
    db.pragma('secure_delete = ON');
    return new SqliteDb(db, file === ':memory:' ? undefined : path.resolve(file));
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    await this.tail;
    return this.runQuery<T>(sql, params);
  }

  async execute(sql: string, params: unknown[] = []): Promise<number> {
    await this.tail;
    const changes = this.runExecute(sql, params);
    this.committed();
    return changes;
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
        this.committed();
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
    const checkpointer = this.checkpointer;
    this.checkpointer = undefined;
    if (checkpointer) {
      const exited = new Promise((resolve) => checkpointer.once('exit', resolve));
      // Unreferenced while it runs (it must not keep a process alive); referenced while we wait for
      // it, or a process with nothing else to do would exit in the middle of close().
      checkpointer.ref();
      checkpointer.postMessage('close');
      await exited;
    }
    this.db.close();
  }

  /** Counts a commit; starts the checkpoint thread once the connection has shown it writes. */
  private committed(): void {
    if (this.file === undefined || this.checkpointer || this.checkpointerFailed || ++this.commits < CHECKPOINT_THREAD_AFTER) return;
    const worker = new Worker(CHECKPOINTER_SOURCE, {
      eval: true,
      workerData: { module: require.resolve('better-sqlite3'), file: this.file, intervalMs: CHECKPOINT_INTERVAL_MS },
    });
    // A failing checkpoint thread leaves the backstop: the connection checkpoints by itself again.
    const fallBack = () => {
      if (this.checkpointer !== worker) return;
      this.checkpointer = undefined;
      this.checkpointerFailed = true;
      this.db.pragma('wal_autocheckpoint = 1000');
    };
    worker.on('error', fallBack);
    worker.on('exit', fallBack);
    worker.unref();
    this.checkpointer = worker;
    this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
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
