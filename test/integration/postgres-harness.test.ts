import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { findPostgresBin, startPostgres, type PostgresServer } from '../helpers/postgres';

describe('PostgreSQL test harness', () => {
  let server: PostgresServer | undefined;

  afterAll(async () => {
    await server?.stop();
  });

  it('starts a real server that accepts connections, DDL and writes, and stops it', async () => {
    server = await startPostgres({ database: 'harness' });
    expect(server.url).toMatch(/^postgres(ql)?:\/\//);

    const client = new Client({ connectionString: server.url });
    await client.connect();
    try {
      const version = await client.query<{ server_version: string }>('SHOW server_version');
      expect(version.rows[0]?.server_version).toMatch(/^\d+/);

      if (!process.env.TEST_DATABASE_URL) {
        const db = await client.query<{ db: string }>('SELECT current_database() AS db');
        expect(db.rows[0]?.db).toBe('harness');
      }

      await client.query('CREATE TEMP TABLE harness_check (id serial PRIMARY KEY, note text NOT NULL)');
      await client.query('INSERT INTO harness_check (note) VALUES ($1)', ['héllo']);
      const rows = await client.query<{ id: number; note: string }>('SELECT id, note FROM harness_check');
      expect(rows.rows).toEqual([{ id: 1, note: 'héllo' }]);
    } finally {
      await client.end();
    }

    await server.stop();
    server = undefined;
  });

  it('findPostgresBin() returns a directory with an executable initdb', () => {
    if (process.env.TEST_DATABASE_URL && !process.env.PG_BIN) {
      try {
        findPostgresBin();
      } catch {
        return; // a machine that brings its own server need not have the binaries
      }
    }
    const bin = findPostgresBin();
    expect(fs.statSync(bin).isDirectory()).toBe(true);
    expect(() => fs.accessSync(path.join(bin, 'initdb'), fs.constants.X_OK)).not.toThrow();
  });
});
