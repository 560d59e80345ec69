import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { AuditLog, rowHash, type AuditEntry, type AuditRow } from '../../src/audit/audit-log';
import type { Db } from '../../src/storage/db';
import { openDb } from '../../src/storage/open-db';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { ROOT } from '../helpers/processes';

/**
 * `npm run audit:verify` (dist/cli/audit-verify.js, compiled by the global setup) against real
 * databases: a chain written by AuditLog verifies; a row edited by someone who bypassed the
 * append-only triggers makes the command fail and name that row.
 */

const CLI = path.join(ROOT, 'dist', 'cli', 'audit-verify.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runVerify(env: { DATA_DIR: string; DATABASE_URL?: string }): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!env.DATABASE_URL) delete childEnv.DATABASE_URL;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI], { env: childEnv, cwd: ROOT, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

const entry = (n: number): AuditEntry => ({
  actor: 'worker:vault',
  action: 'card.tokenize',
  merchantId: 'm_audit',
  paymentId: `pay_${n}`,
  subject: `tok_${n}`,
  outcome: 'success',
  details: { attempt: n },
});

async function appendEntries(db: Db, count: number): Promise<void> {
  const audit = new AuditLog(db);
  for (let n = 1; n <= count; n++) await audit.append(entry(n));
}

describe('npm run audit:verify', () => {
  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: the global setup compiles dist/`);
  });

  describe('SQLite (DATA_DIR)', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-verify-'));
    const file = path.join(dataDir, 'vault.db');
    afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

    it('fails to run (exit 2), rather than creating an empty database, when there is none', async () => {
      const run = await runVerify({ DATA_DIR: dataDir });
      expect(run).toMatchObject({ code: 2, stdout: '' });
      expect(run.stderr).toContain(`no database at ${file}`);
      expect(fs.existsSync(file)).toBe(false);
    });

    it('verifies the chain AuditLog wrote', async () => {
      const db = await openDb({ dataDir });
      await appendEntries(db, 5);
      await db.close();
      const run = await runVerify({ DATA_DIR: dataDir });
      expect(run).toEqual({ code: 0, stdout: 'audit log OK: 5 rows\n', stderr: '' });
    });

    it('fails and names row 3 when row 3 was edited behind the triggers', async () => {
      const raw = new Database(file);
      try {
        // An attacker with the database file: the triggers are no obstacle.
        raw.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
        expect(raw.prepare("UPDATE audit_log SET subject = 'tok_forged' WHERE seq = 3").run().changes).toBe(1);
      } finally {
        raw.close();
      }
      const run = await runVerify({ DATA_DIR: dataDir });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('audit log BROKEN at row 3: the row was edited: its hash does not match its content\n');
    });

    it('recomputing the edited row\'s hash moves the break to the next row, which it names', async () => {
      const raw = new Database(file);
      try {
        const row = raw.prepare('SELECT * FROM audit_log WHERE seq = 3').get() as AuditRow;
        raw.prepare('UPDATE audit_log SET hash = ? WHERE seq = 3').run(rowHash(row));
      } finally {
        raw.close();
      }
      const run = await runVerify({ DATA_DIR: dataDir });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('audit log BROKEN at row 4: prev_hash does not match the previous row\n');
    });
  });

  describe('PostgreSQL (DATABASE_URL)', () => {
    let server: PostgresServer;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-verify-pg-'));

    beforeAll(async () => {
      server = await startPostgres({ database: 'audit_verify' });
    });
    afterAll(async () => {
      await server?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('verifies the chain, then fails and names row 3 once it was edited with the trigger disabled', async () => {
      const db = await openDb({ databaseUrl: server.url, dataDir });
      try {
        await appendEntries(db, 6);
      } finally {
        await db.close();
      }
      expect(await runVerify({ DATA_DIR: dataDir, DATABASE_URL: server.url })).toEqual({ code: 0, stdout: 'audit log OK: 6 rows\n', stderr: '' });

      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        // The trigger refuses the edit...
        await expect(client.query("UPDATE audit_log SET outcome = 'failure' WHERE seq = 3")).rejects.toThrow(/append-only/);
        // ...until a superuser disables it.
        await client.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change');
        expect((await client.query("UPDATE audit_log SET outcome = 'failure' WHERE seq = 3")).rowCount).toBe(1);
        await client.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change');
      } finally {
        await client.end();
      }
      const run = await runVerify({ DATA_DIR: dataDir, DATABASE_URL: server.url });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('audit log BROKEN at row 3: the row was edited: its hash does not match its content\n');
      // No SQLite database was created on the side.
      expect(fs.existsSync(path.join(dataDir, 'vault.db'))).toBe(false);
    });
  });
});
