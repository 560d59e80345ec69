import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteDb } from '../../src/storage/sqlite-db';

/**
 * WAL checkpoints run in a background thread once a connection writes (src/storage/sqlite-db.ts), not
 * inside the commit that happens to cross SQLite's threshold (the fraud check's p99, issue 9).
 */
describe('SQLite background checkpoints', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-checkpoint-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('copies the WAL into the database file from another thread; the connection only keeps a backstop', async () => {
    const file = path.join(dir, 'db.sqlite');
    const db = SqliteDb.open(file);
    await db.executeScript('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const before = fs.statSync(file).size;
    for (let i = 0; i < 200; i++) {
      await db.transaction(async (tx) => {
        await tx.execute('INSERT INTO t (id, body) VALUES ($1, $2)', [i, 'x'.repeat(2000)]);
      });
    }
    // 200 commits of a 2 KB row: far below the backstop (10,000 pages), so only the thread copies them.
    expect(await db.query<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint')).toEqual([{ wal_autocheckpoint: 10_000 }]);
    const deadline = Date.now() + 5_000;
    while (fs.statSync(file).size <= before + 200 * 2000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(fs.statSync(file).size).toBeGreaterThan(before + 200 * 2000);
    expect(await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM t')).toEqual([{ n: 200 }]);
    await db.close();
  });

  it('a connection that writes little never starts the thread', async () => {
    const db = SqliteDb.open(path.join(dir, 'small.sqlite'));
    await db.executeScript('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    for (let i = 0; i < 10; i++) await db.execute('INSERT INTO t (id) VALUES ($1)', [i]);
    expect(await db.query<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint')).toEqual([{ wal_autocheckpoint: 1000 }]);
    await db.close();
  });
});
