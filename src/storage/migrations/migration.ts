import type { Dialect } from '../db';

/** One versioned schema change, with its SQL for each database. Never edit one that has shipped: add the next. */
export interface Migration {
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
}

export type MigrationSql = Pick<Migration, Dialect>;
