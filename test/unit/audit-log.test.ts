import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, GENESIS_HASH, rowHash, type AuditEntry, type AuditRow } from '../../src/audit/audit-log';
import { migrate } from '../../src/storage/migrate';
import { SqliteDb } from '../../src/storage/sqlite-db';

describe('AuditLog on SQLite (hash chain, append-only)', () => {
  let dir: string;
  let db: SqliteDb;
  let clock: number;
  let audit: AuditLog;

  const entry = (n: number, overrides: Partial<AuditEntry> = {}): AuditEntry => ({
    actor: 'worker:vault',
    action: 'card.tokenize',
    merchantId: 'mer_test',
    paymentId: `pay_${n}`,
    subject: `tok_${n}`,
    outcome: 'success',
    details: { attempt: n, reused: false },
    ...overrides,
  });
  const rows = () => db.query<AuditRow>('SELECT * FROM audit_log ORDER BY seq');
  const appendMany = async (count: number) => {
    for (let n = 1; n <= count; n++) await audit.append(entry(n));
  };
  /** An attacker with direct access to the database file: drops the guard triggers. */
  const dropTriggers = async () => {
    await db.executeScript('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-log-'));
    db = SqliteDb.open(path.join(dir, 'db', 'gateway.sqlite'));
    await migrate(db);
    clock = 1_700_000_000_000;
    audit = new AuditLog(db, () => ++clock);
  });

  afterEach(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('verifies an empty log', async () => {
    await expect(audit.verify()).resolves.toEqual({ ok: true, rows: 0 });
  });

  it('chains appends: the first links to GENESIS_HASH, each next one to the hash of the one before', async () => {
    await appendMany(5);
    await audit.append({ actor: 'operator', action: 'key.rotate', outcome: 'failure' }); // no optional fields

    const all = await rows();
    expect(all.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(all[0]!.prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < all.length; i++) expect(all[i]!.prev_hash).toBe(all[i - 1]!.hash);
    for (const row of all) {
      expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(row.hash).toBe(rowHash(row));
    }
    expect(new Set(all.map((r) => r.hash)).size).toBe(all.length);

    expect(all[1]).toMatchObject({
      seq: 2,
      at: 1_700_000_000_002,
      actor: 'worker:vault',
      action: 'card.tokenize',
      merchant_id: 'mer_test',
      payment_id: 'pay_2',
      subject: 'tok_2',
      outcome: 'success',
    });
    expect(JSON.parse(all[1]!.details)).toEqual({ attempt: 2, reused: false });
    expect(all[5]).toMatchObject({ merchant_id: null, payment_id: null, subject: null, outcome: 'failure', details: '{}' });

    await expect(audit.verify()).resolves.toEqual({ ok: true, rows: 6 });
  });

  it('appends inside a caller transaction, and rolls back with it', async () => {
    await audit.append(entry(1));
    await db.transaction(async (tx) => {
      await audit.append(entry(2), tx);
      await audit.append(entry(3), tx);
    });
    await expect(
      db.transaction(async (tx) => {
        await audit.append(entry(4), tx);
        throw new Error('the surrounding work failed');
      }),
    ).rejects.toThrow('the surrounding work failed');

    expect((await rows()).map((r) => r.subject)).toEqual(['tok_1', 'tok_2', 'tok_3']);
    await audit.append(entry(5));
    expect((await rows()).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    await expect(audit.verify()).resolves.toEqual({ ok: true, rows: 4 });
  });

  describe('the database refuses changes to history', () => {
    beforeEach(() => appendMany(3));

    it('refuses UPDATE', async () => {
      await expect(db.execute("UPDATE audit_log SET details = '{}' WHERE seq = 2")).rejects.toMatchObject({ message: expect.stringMatching(/append-only/) });
      await expect(db.execute('UPDATE audit_log SET outcome = $1', ['failure'])).rejects.toMatchObject({ message: expect.stringMatching(/append-only/) });
      await expect(
        db.transaction((tx) => tx.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 1")),
      ).rejects.toMatchObject({ message: expect.stringMatching(/append-only/) });
    });

    it('refuses DELETE', async () => {
      await expect(db.execute('DELETE FROM audit_log WHERE seq = 3')).rejects.toMatchObject({ message: expect.stringMatching(/append-only/) });
      await expect(db.execute('DELETE FROM audit_log')).rejects.toMatchObject({ message: expect.stringMatching(/append-only/) });
    });

    it('leaves the log intact after the refusals', async () => {
      await db.execute("UPDATE audit_log SET details = '{}' WHERE seq = 2").catch(() => undefined);
      await db.execute('DELETE FROM audit_log').catch(() => undefined);
      expect(await rows()).toHaveLength(3);
      await expect(audit.verify()).resolves.toEqual({ ok: true, rows: 3 });
      // Appending still works after a refused statement.
      await audit.append(entry(4));
      await expect(audit.verify()).resolves.toEqual({ ok: true, rows: 4 });
    });
  });

  describe('verify() detects tampering by someone who bypasses the triggers', () => {
    beforeEach(() => appendMany(5));

    it("detects an edit of row 3's details", async () => {
      await db.executeScript('DROP TRIGGER audit_log_no_update');
      const changed = await db.execute('UPDATE audit_log SET details = $1 WHERE seq = 3', [JSON.stringify({ attempt: 99, reused: true })]);
      expect(changed).toBe(1);
      await expect(audit.verify()).resolves.toMatchObject({ ok: false, rows: 5, brokenAt: 3, reason: expect.stringMatching(/edited/) });
    });

    it.each([
      ['actor', "'operator'"],
      ['action', "'card.detokenize'"],
      ['outcome', "'failure'"],
      ['at', 'at + 1'],
      ['subject', 'NULL'],
      ['merchant_id', "'mer_other'"],
    ])('detects an edit of row 3 column %s', async (column, value) => {
      await dropTriggers();
      await db.execute(`UPDATE audit_log SET ${column} = ${value} WHERE seq = 3`);
      await expect(audit.verify()).resolves.toMatchObject({ ok: false, brokenAt: 3 });
    });

    it("detects an edit whose hash was recomputed: row 4's link breaks", async () => {
      await dropTriggers();
      const row3 = (await rows())[2]!;
      const forged = { ...row3, details: JSON.stringify({ attempt: 99 }) };
      await db.execute('UPDATE audit_log SET details = $1, hash = $2 WHERE seq = 3', [forged.details, rowHash(forged)]);
      await expect(audit.verify()).resolves.toMatchObject({ ok: false, brokenAt: 4, reason: expect.stringMatching(/prev_hash/) });
    });

    it('detects a deleted row', async () => {
      await dropTriggers();
      expect(await db.execute('DELETE FROM audit_log WHERE seq = 3')).toBe(1);
      const result = await audit.verify();
      expect(result).toMatchObject({ ok: false, rows: 4, reason: expect.stringMatching(/missing/) });
      // The break is reported at the first row after the gap.
      expect(result).toMatchObject({ brokenAt: 4 });
    });

    it('detects a deleted first row', async () => {
      await dropTriggers();
      await db.execute('DELETE FROM audit_log WHERE seq = 1');
      await expect(audit.verify()).resolves.toMatchObject({ ok: false, brokenAt: 2 });
    });

    it('detects a deleted row whose successors were renumbered', async () => {
      await dropTriggers();
      await db.execute('DELETE FROM audit_log WHERE seq = 3');
      await db.execute('UPDATE audit_log SET seq = seq - 1 WHERE seq > 3');
      await expect(audit.verify()).resolves.toMatchObject({ ok: false, brokenAt: 3 });
    });

    it('detects a forged row inserted at the end', async () => {
      const last = (await rows())[4]!;
      await db.execute(
        `INSERT INTO audit_log (seq, at, actor, action, merchant_id, payment_id, subject, outcome, details, prev_hash, hash)
         VALUES (6, $1, 'operator', 'card.detokenize', NULL, NULL, 'tok_1', 'success', '{}', $2, $3)`,
        [last.at + 1, last.hash, 'f'.repeat(64)],
      );
      await expect(audit.verify()).resolves.toMatchObject({ ok: false, brokenAt: 6 });
    });

    it('verifies again once the tampering is undone', async () => {
      await dropTriggers();
      const original = (await rows())[2]!.details;
      await db.execute("UPDATE audit_log SET details = '{}' WHERE seq = 3");
      await expect(audit.verify()).resolves.toMatchObject({ ok: false, brokenAt: 3 });
      await db.execute('UPDATE audit_log SET details = $1 WHERE seq = 3', [original]);
      await expect(audit.verify()).resolves.toEqual({ ok: true, rows: 5 });
    });
  });

  it('keeps a valid chain under 50 concurrent appends', async () => {
    await audit.append(entry(0));
    await Promise.all(Array.from({ length: 50 }, (_, i) => audit.append(entry(i + 1))));

    const all = await rows();
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    expect(new Set(all.map((r) => r.subject)).size).toBe(51);
    expect(new Set(all.map((r) => r.prev_hash)).size).toBe(51); // no fork: no two rows share a parent
    await expect(audit.verify()).resolves.toEqual({ ok: true, rows: 51 });
  });

  it('keeps a valid chain when concurrent appends mix with a failing transaction', async () => {
    const failing = db.transaction(async (tx) => {
      await audit.append(entry(100), tx);
      throw new Error('rolled back');
    });
    const appends = Array.from({ length: 20 }, (_, i) => audit.append(entry(i + 1)));
    await expect(failing).rejects.toThrow('rolled back');
    await Promise.all(appends);
    expect((await rows()).map((r) => r.subject)).not.toContain('tok_100');
    await expect(audit.verify()).resolves.toEqual({ ok: true, rows: 20 });
  });

  it('a second connection to the same file sees and extends the same chain', async () => {
    await appendMany(3);
    const other = SqliteDb.open(path.join(dir, 'db', 'gateway.sqlite'));
    try {
      await migrate(other); // already applied: a no-op
      const otherAudit = new AuditLog(other, () => ++clock);
      await otherAudit.append(entry(4, { actor: 'api' }));
      await audit.append(entry(5));
      await expect(otherAudit.verify()).resolves.toEqual({ ok: true, rows: 5 });
      await expect(audit.verify()).resolves.toEqual({ ok: true, rows: 5 });
    } finally {
      await other.close();
    }
  });
});
