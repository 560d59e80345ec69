/**
 * The small SQL surface the vault and the audit log need, over SQLite (the embedded default) and
 * PostgreSQL (production). SQL is written once, PostgreSQL-style with `$1` placeholders; the SQLite
 * adapter rewrites them. Timestamps are integers (epoch milliseconds) and binary data is bytes in
 * both, so rows look the same whichever database is behind.
 */
export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  readonly dialect: Dialect;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a statement and returns how many rows it changed. */
  execute(sql: string, params?: unknown[]): Promise<number>;
  /** Runs several statements without parameters (migrations). */
  executeScript(sql: string): Promise<void>;
  /** Runs `work` in one transaction; it commits if `work` resolves and rolls back if it throws. */
  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
