import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createVaultActivities } from '../../src/activities/vault';
import { AuditLog } from '../../src/audit/audit-log';
import type { Db } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';
import { PostgresDb } from '../../src/storage/postgres-db';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { CardIntake } from '../../src/vault/card-intake';
import { CachingKeyProvider } from '../../src/vault/keys/data-key-cache';
import type { KeyProvider } from '../../src/vault/keys/key-provider';
import { KmsKeyProvider } from '../../src/vault/keys/kms-key-provider';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import { LOCAL_PAYLOAD_KEY_ID } from '../../src/vault/keys/open-key-provider';
import { cvvAad, cvvInfo } from '../../src/vault/sealed-formats';
import { CvvHeldElsewhereError, Vault } from '../../src/vault/vault';
import { tryToOpen } from '../helpers/key-material-decryptor';
import { createKmsKey, startKmsServer, type KmsServer } from '../helpers/kms-server';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { TEST_CARDS, TEST_CVCS, testCard } from '../helpers/test-cards';

/**
 * Issue 10, item 2 (acceptance): CVV crypto-shredding. The raw database is copied while a CVV is
 * stored (SQLite: the db file with its -wal; PostgreSQL: the rows, and the WAL and heap pages the
 * server keeps), then the CVV is purged — or left to its TTL — and the copied ciphertext opens with
 * no key that remains: not the vault's key files, not its key provider (the KMS server), not the
 * CVV epoch keys still alive. Before the purge the same copy does open with its epoch key: the
 * copy is a real CVV, so the test would fail if destruction did not happen.
 */

const MINUTE = 60_000;
const EXPIRY = { expMonth: 12, expYear: 2030 };
const EPOCHS = { sealWindowMs: 5 * MINUTE, maintenanceIntervalMs: MINUTE };

interface Seal {
  epoch_id: string;
  enc: Buffer;
  ciphertext: Buffer;
}

interface Store {
  db: Db;
  /** The CVV's seals as a copy of the raw database taken now holds them. */
  copyNow(cvvRef: string): Promise<Seal[]>;
  /** Whether the server's own files (PostgreSQL WAL and heap pages) still hold these bytes. */
  serverFilesHold?(bytes: Buffer): Promise<boolean>;
  close(): Promise<void>;
}

let postgres: PostgresServer | undefined;
let kms: KmsServer | undefined;
afterAll(async () => {
  await postgres?.stop();
  await kms?.stop();
});

const backends = {
  async sqlite(): Promise<Store> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvv-shred-'));
    const file = path.join(dir, 'vault.db');
    const db = SqliteDb.open(file);
    await migrate(db);
    return {
      db,
      async copyNow(cvvRef) {
        // The files as a backup tool (or an attacker) would take them: the db and its -wal, bytes only.
        const copyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvv-shred-copy-'));
        for (const f of fs.readdirSync(dir).filter((n) => n.startsWith('vault.db'))) fs.copyFileSync(path.join(dir, f), path.join(copyDir, f));
        expect(fs.existsSync(path.join(copyDir, 'vault.db-wal'))).toBe(true);
        const copy = new Database(path.join(copyDir, 'vault.db'));
        try {
          return copy.prepare('SELECT epoch_id, enc, ciphertext FROM cvv_seals WHERE cvv_id = ?').all(cvvRef) as Seal[];
        } finally {
          copy.close();
        }
      },
      async close() {
        await db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  async postgres(): Promise<Store> {
    postgres ??= await startPostgres({ database: 'shred_admin' });
    const database = `shred_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const db = PostgresDb.open(postgres.url.replace(/\/[^/]+$/, `/${database}`));
    await migrate(db);
    return {
      db,
      async copyNow(cvvRef) {
        // A dump of the rows (what a logical backup keeps).
        return (await db.query<Seal>('SELECT epoch_id, enc, ciphertext FROM cvv_seals WHERE cvv_id = $1', [cvvRef])).map((r) => ({
          epoch_id: r.epoch_id,
          enc: Buffer.from(r.enc),
          ciphertext: Buffer.from(r.ciphertext),
        }));
      },
      async serverFilesHold(bytes) {
        // The test server runs as its superuser: read its WAL segments and the table's heap file (dead tuples) directly.
        await db.execute('CHECKPOINT');
        const files = [
          ...(await db.query<{ name: string }>('SELECT name FROM pg_ls_waldir() ORDER BY name')).map((r) => `pg_wal/${r.name}`),
          (await db.query<{ path: string }>("SELECT pg_relation_filepath('cvv_seals') AS path"))[0]!.path,
        ];
        for (const file of files) {
          const [row] = await db.query<{ data: Buffer }>('SELECT pg_read_binary_file($1) AS data', [file]);
          if (Buffer.from(row!.data).includes(bytes)) return true;
        }
        return false;
      },
      close: () => db.close(),
    };
  },
};

const providers = {
  local: async (dir: string): Promise<{ cardKeys: KeyProvider; files: string[] }> => {
    const file = path.join(dir, 'master-key.json');
    return { cardKeys: new CachingKeyProvider(LocalKeyProvider.open(file)), files: [file] };
  },
  'aws-kms': async (): Promise<{ cardKeys: KeyProvider; files: string[] }> => {
    kms ??= await startKmsServer();
    const keyId = await createKmsKey(kms);
    return { cardKeys: new CachingKeyProvider(await KmsKeyProvider.connect({ keyId, region: kms.region, endpoint: kms.endpoint, credentials: kms.credentials })), files: [] };
  },
};

describe.each([
  ['sqlite', 'local'],
  ['sqlite', 'aws-kms'],
  ['postgres', 'local'],
  ['postgres', 'aws-kms'],
] as const)('CVV crypto-shredding on %s + %s', (backendName, providerName) => {
  let store: Store;
  let keyDir: string;
  let cardKeys: KeyProvider;
  let keyFiles: string[];
  let payloadKeys: KeyProvider;
  let clock: number;
  let audit: AuditLog;
  let intake: CardIntake;
  let vault: Vault;

  beforeEach(async () => {
    store = await backends[backendName]();
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvv-shred-keys-'));
    ({ cardKeys, files: keyFiles } = await providers[providerName](keyDir));
    const payloadFile = path.join(keyDir, 'payload-key.json');
    payloadKeys = LocalKeyProvider.open(payloadFile, { create: true, keyId: LOCAL_PAYLOAD_KEY_ID });
    keyFiles = [...keyFiles, payloadFile];
    clock = Date.UTC(2026, 11, 3, 9, 0, 0);
    audit = new AuditLog(store.db, () => clock);
    vault = await Vault.open(store.db, cardKeys, audit, { now: () => clock, cvvEpochs: EPOCHS });
    intake = new CardIntake(store.db, audit, { ttlMs: 30 * MINUTE, now: () => clock });
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(keyDir, { recursive: true, force: true });
  });

  /** Seals a card, authorizes with its CVV (as a payment does), and copies the database while the CVV is there. */
  async function storedAndCopied() {
    const sealed = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
    const { token } = await vault.tokenize(sealed.intakeRef, { merchantId: 'm_test' });
    expect(await vault.withCardForAuthorization(token, sealed.cvvRef, EXPIRY, {}, async (c) => c.cvc === TEST_CVCS[0])).toBe(true);
    const [seal, ...more] = await store.copyNow(sealed.cvvRef);
    expect(more).toEqual([]);
    // Control: the copy is the real CVV, and the epoch key alive now opens it.
    expect((await vault.cvvEpochs.open(seal!.epoch_id, seal!, cvvAad(sealed.cvvRef)))?.toString()).toBe(TEST_CVCS[0]);
    return { sealed, token, seal: seal! };
  }

  /** After destruction: the copy is still there, byte for byte, and nothing that remains opens it. */
  async function assertCopyCannotBeOpened(cvvRef: string, token: string, seal: Seal) {
    // The epoch's key is gone from the vault; the vault has a newer epoch alive (to try as well).
    expect(vault.cvvEpochs.heldEpochIds()).not.toContain(seal.epoch_id);
    expect(vault.cvvEpochs.heldEpochIds().length).toBeGreaterThanOrEqual(1);
    const [row] = await store.db.query<{ destroyed_at: number | string | null }>('SELECT destroyed_at FROM cvv_epochs WHERE id = $1', [seal.epoch_id]);
    expect(Number(row!.destroyed_at)).toBe(clock);
    // The destruction is in the audit chain, so an auditor can date it.
    const destroyedRows = await store.db.query<{ n: number | string }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'cvv.epoch_destroy' AND subject = $1", [seal.epoch_id]);
    expect(Number(destroyedRows[0]!.n)).toBe(1);
    expect(await audit.verify()).toMatchObject({ ok: true });
    if (store.serverFilesHold) expect(await store.serverFilesHold(seal.ciphertext)).toBe(true);

    const aad = cvvAad(cvvRef);
    expect(await vault.cvvEpochs.open(seal.epoch_id, seal, aad)).toBeUndefined();
    expect(await vault.cvvEpochs.openWithAnyHeldKey(seal.epoch_id, seal, aad)).toBeUndefined();
    const report = await tryToOpen(
      { env: {}, files: keyFiles, providers: [cardKeys, payloadKeys], db: store.db },
      [{ name: 'copied cvv', enc: seal.enc, ciphertext: seal.ciphertext, info: cvvInfo(seal.epoch_id), aad }],
    );
    expect(report.opened).toEqual([]);
    expect(report.secrets).toBeGreaterThanOrEqual(3); // at least the master or KMS-unwrapped secrets and the payload key
    await expect(vault.withCardForAuthorization(token, cvvRef, EXPIRY, {}, async () => 'used')).rejects.toMatchObject({ code: 'cvv_not_found' });
  }

  it('after the purge, once its epoch ends, no key that remains opens a copy of the CVV', async () => {
    const { sealed, token, seal } = await storedAndCopied();
    expect(await vault.purgeCvv(sealed.cvvRef)).toEqual({ purged: true });
    // Destruction is per epoch: the key goes when the epoch's seal window has closed and its CVVs are gone.
    clock += EPOCHS.sealWindowMs + MINUTE;
    const maintained = await vault.maintainCvvEpochs();
    expect(maintained.destroyed).toEqual([seal.epoch_id]);
    expect(maintained.created).toBeDefined();
    await assertCopyCannotBeOpened(sealed.cvvRef, token, seal);
  });

  it('after the TTL, the sweeper destroys the CVV and its epoch key: the copy opens with no key that remains', async () => {
    const { sealed, token, seal } = await storedAndCopied();
    clock += 31 * MINUTE;
    expect((await vault.sweepExpired()).cvvs).toEqual([sealed.cvvRef]);
    expect((await vault.maintainCvvEpochs()).destroyed).toEqual([seal.epoch_id]);
    await assertCopyCannotBeOpened(sealed.cvvRef, token, seal);
  });

  it('an epoch is kept while one of its CVVs waits (a review hold), and destroyed once that CVV is purged', async () => {
    const { sealed, seal } = await storedAndCopied();
    await vault.retainCvv(sealed.cvvRef, clock + 24 * 60 * MINUTE);
    clock += 2 * 60 * MINUTE;
    await vault.sweepExpired();
    expect((await vault.maintainCvvEpochs()).destroyed).toEqual([]);
    expect(vault.cvvEpochs.heldEpochIds()).toContain(seal.epoch_id);
    await vault.purgeCvv(sealed.cvvRef);
    expect((await vault.maintainCvvEpochs()).destroyed).toEqual([seal.epoch_id]);
  });

  it('a restarted vault worker cannot open CVVs sealed before: cvv_unavailable, non-retryable, and nothing reaches the acquirer', async () => {
    const { sealed, token } = await storedAndCopied();
    // The worker stops (its keys die with it) and another starts after its liveness ran out.
    await vault.cvvEpochs.dropAll();
    clock += 4 * MINUTE;
    const restarted = await Vault.open(store.db, cardKeys, audit, { now: () => clock, cvvEpochs: EPOCHS });
    let acquirerCalls = 0;
    const activities = createVaultActivities({
      vault: restarted,
      acquirer: {
        authorize: async () => {
          acquirerCalls++;
          throw new Error('must not be called');
        },
      },
    });
    const failure = await new MockActivityEnvironment()
      .run(activities.authorize, { token, cvvRef: sealed.cvvRef, ...EXPIRY, amount: 1000, currency: 'usd', merchantId: 'm_1', paymentId: 'pay_restart' })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'cvv_unavailable', nonRetryable: true });
    expect(acquirerCalls).toBe(0);
    // A card presented again is sealed to the new worker's epoch and authorizes.
    const again = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
    expect(await restarted.withCardForAuthorization(token, again.cvvRef, EXPIRY, {}, async (c) => c.cvc === TEST_CVCS[0])).toBe(true);
  });

  it('with several live vault workers each CVV is sealed to each; a worker that joined later retries towards them', async () => {
    const second = await Vault.open(store.db, cardKeys, audit, { now: () => clock, cvvEpochs: EPOCHS });
    const sealed = await intake.seal(testCard(TEST_CARDS.mastercard), { actor: 'api' });
    const { token } = await vault.tokenize(sealed.intakeRef, { merchantId: 'm_test' });
    expect(await store.db.query('SELECT epoch_id FROM cvv_seals WHERE cvv_id = $1', [sealed.cvvRef])).toHaveLength(2);
    for (const v of [vault, second]) expect(await v.withCardForAuthorization(token, sealed.cvvRef, EXPIRY, {}, async (c) => c.cvc === TEST_CVCS[0])).toBe(true);
    const late = await Vault.open(store.db, cardKeys, audit, { now: () => clock, cvvEpochs: EPOCHS });
    await expect(late.withCardForAuthorization(token, sealed.cvvRef, EXPIRY, {}, async () => 'used')).rejects.toThrow(CvvHeldElsewhereError);
  });
});
