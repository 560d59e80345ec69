import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AuditLog } from '../../src/audit/audit-log';
import { migrate } from '../../src/storage/migrate';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { CardIntake } from '../../src/vault/card-intake';
import { CachingKeyProvider } from '../../src/vault/keys/data-key-cache';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import { Vault } from '../../src/vault/vault';
import { findCardSecrets, findCardSecretsInFiles, sqliteFilesUnder } from '../helpers/card-secret-scan';
import { TEST_CARDS, cardSecrets, testCard } from '../helpers/test-cards';

/**
 * The leak scan finds a CVV or card number in any form it could be stored in (issue 10): the old
 * scan looked for CVCs only as quoted JSON strings, so a CVV stored bare in a database passed.
 */
const CVC = '731';
const AMEX_CVC = '7319';
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('card secret scan', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secret-scan-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['a bare card number', `x${TEST_CARDS.visa}y`],
    ['a card number inside a longer digit run', `17${TEST_CARDS.mastercard}99`],
    ['a hex-encoded card number', Buffer.from(TEST_CARDS.amex).toString('hex')],
    ['an upper-case hex card number', Buffer.from(TEST_CARDS.discover).toString('hex').toUpperCase()],
    ...[0, 1, 2].map((offset) => [`a base64 card number at offset ${offset}`, b64(`${'x'.repeat(offset)}{"number":"${TEST_CARDS.visa}"}`)] as [string, string]),
    ['a base64url card number', Buffer.from(`pan=${TEST_CARDS.visa}`).toString('base64url')],
    ['a quoted CVC', `{"cvc":"${CVC}"}`],
    ['a labelled CVC', `cvv=${CVC}&x=1`],
    ['a labelled numeric CVC', `{"security_code":${CVC}}`],
    ['a CVC as a whole base64 token', `{"v":"${b64(CVC)}"}`],
    ['a CVC as a whole hex token', `value ${Buffer.from(CVC).toString('hex')} end`],
    ['a CVC in base64 JSON', b64(JSON.stringify({ card: { cvc: CVC } }))],
    ['a CVC in hex JSON', Buffer.from(JSON.stringify({ cvc: CVC })).toString('hex')],
  ])('finds %s', (_name, text) => {
    expect(findCardSecrets(text)).not.toEqual([]);
  });

  it('finds a bare 4-digit CVC in binary data (a database page), not a number in a log line', () => {
    const page = Buffer.concat([Buffer.from([0x00, 0x13]), Buffer.from(AMEX_CVC), Buffer.from([0x00, 0x00])]).toString('latin1');
    expect(findCardSecrets(page, { binary: true })).toEqual(['a test card secret ending 7319 (CVC, plain, bare)']);
    expect(findCardSecrets(`{"msg":"done","durationMs":${AMEX_CVC},"amount":${CVC}} took ${AMEX_CVC} ms, port ${CVC}`)).toEqual([]);
  });

  it('finds a card number after a dot in text, not the fraction of a decimal number', () => {
    expect(findCardSecrets(`card.${TEST_CARDS.declinedGeneric}`)).toEqual([`a test card secret ending 0002 (card number, plain)`]);
    // A float a model feature happened to be (0.1 + 0.3 style rounding): its fraction reads like the sandbox's decline card.
    expect(findCardSecrets(`[0.${TEST_CARDS.declinedGeneric},1.5]`)).toEqual([]);
  });

  it('reports only the last four characters, never the secret', () => {
    const hits = findCardSecrets(`{"number":"${TEST_CARDS.visa}","cvc":"${CVC}"}`);
    expect(hits.join('\n')).toContain('ending 4242');
    expect(hits.join('\n')).not.toContain(TEST_CARDS.visa);
  });

  it('finds a CVC stored bare, base64 or hex as a SQLite column value, which the quoted-string scan missed', () => {
    const file = path.join(dir, 'leaky.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id TEXT, created_at INTEGER, cvc TEXT)');
    db.prepare('INSERT INTO t VALUES (?, ?, ?)').run('cvv_1', Date.now(), CVC);
    db.prepare('INSERT INTO t VALUES (?, ?, ?)').run('cvv_2', Date.now(), b64(AMEX_CVC));
    db.close();
    const before = cardSecrets(); // the old scan: exact strings, CVCs only as "731"
    const raw = fs.readFileSync(file, 'latin1') + (fs.existsSync(`${file}-wal`) ? fs.readFileSync(`${file}-wal`, 'latin1') : '');
    expect(before.filter((s) => raw.includes(s))).toEqual([]);
    const hits = findCardSecretsInFiles(sqliteFilesUnder(dir));
    expect(hits.some((h) => h.includes('ending 731 (CVC, the whole value of t.cvc)'))).toBe(true);
    expect(hits.some((h) => h.includes('ending 7319'))).toBe(true);
  });

  it('no false positive on a real vault database full of sealed cards, nor on megabytes of random bytes', async () => {
    const file = path.join(dir, 'vault.db');
    const db = SqliteDb.open(file);
    await migrate(db);
    const audit = new AuditLog(db);
    const vault = await Vault.open(db, new CachingKeyProvider(LocalKeyProvider.open(path.join(dir, 'keys', 'master-key.json'))), audit);
    const intake = new CardIntake(db, audit, { ttlMs: 60_000 });
    for (let i = 0; i < 100; i++) {
      const sealed = await intake.seal(testCard(Object.values(TEST_CARDS)[i % Object.values(TEST_CARDS).length]!), { actor: 'api' });
      if (i % 2) await vault.tokenize(sealed.intakeRef, { merchantId: 'm_test' });
      if (i % 3) await vault.purgeCvv(sealed.cvvRef);
    }
    await db.close();
    expect(findCardSecretsInFiles(sqliteFilesUnder(dir))).toEqual([]);
    const random = randomBytes(8 * 1024 * 1024);
    expect(findCardSecrets(random.toString('latin1'))).toEqual([]);
    expect(findCardSecrets(random.toString('base64'))).toEqual([]);
    expect(findCardSecrets(random.toString('hex'))).toEqual([]);
  });
});
