import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import { CardIntake } from '../../src/vault/card-intake';
import { open } from '../../src/vault/crypto/aes-gcm';
import { CiphertextTamperedError } from '../../src/vault/crypto/aes-gcm';
import { CachingKeyProvider } from '../../src/vault/keys/data-key-cache';
import { KeyUnwrapError, type KeyProvider } from '../../src/vault/keys/key-provider';
import { KmsKeyProvider } from '../../src/vault/keys/kms-key-provider';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import { rewrapDataKeys } from '../../src/vault/key-rotation';
import { Vault, VaultReferenceError } from '../../src/vault/vault';
import { findCardSecrets } from '../helpers/card-secret-scan';
import { createKmsKey, startKmsServer, type KmsServer } from '../helpers/kms-server';
import { TEST_CARDS, TEST_CVCS, testCard } from '../helpers/test-cards';
import { postgresBackend, sqliteBackend, type Backend, type TestDatabase } from '../helpers/vault-backends';

const MINUTE = 60_000;
/** The expiry the payment carries (testCard seals 12/2030): authorization reads it from the payment, not the shared card row. */
const EXPIRY = { expMonth: 12, expYear: 2030 };

/** A key provider under test, and how to make a second, unrelated one ("the wrong master key"). */
interface ProviderKind {
  name: 'local' | 'aws-kms';
  create(): Promise<KeyProvider>;
  /** Moves the provider to a new master key (version), as a rotation does. */
  rotate(provider: KeyProvider): Promise<KeyProvider>;
}

let kms: KmsServer | undefined;
const localKind: ProviderKind = {
  name: 'local',
  async create() {
    return LocalKeyProvider.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'keys-')), 'master-key.json'));
  },
  async rotate(provider) {
    (provider as LocalKeyProvider).addVersion();
    return provider;
  },
};
const kmsKind: ProviderKind = {
  name: 'aws-kms',
  async create() {
    kms ??= await startKmsServer();
    return KmsKeyProvider.connect({ keyId: await createKmsKey(kms), region: kms.region, endpoint: kms.endpoint, credentials: kms.credentials });
  },
  async rotate() {
    // KMS rotates to a new key (the old one stays enabled to decrypt until everything is re-wrapped).
    return KmsKeyProvider.connect({ keyId: await createKmsKey(kms!), region: kms!.region, endpoint: kms!.endpoint, credentials: kms!.credentials });
  },
};

const backends: Backend[] = [sqliteBackend(), postgresBackend()];
afterAll(async () => {
  await Promise.all(backends.map((b) => b.stop()));
  await kms?.stop();
});

describe.each(backends.flatMap((backend) => [localKind, kmsKind].map((kind) => [`${backend.name} + ${kind.name}`, backend, kind] as const)))(
  'card vault on %s',
  (_name, backend, kind) => {
    let store: TestDatabase;
    let rawKeys: KeyProvider;
    let keys: KeyProvider;
    let audit: AuditLog;
    let clock: number;
    let intake: CardIntake;
    let vault: Vault;

    beforeEach(async () => {
      store = await backend.create();
      rawKeys = await kind.create();
      keys = new CachingKeyProvider(rawKeys);
      clock = Date.UTC(2026, 10, 25, 12, 0, 0);
      audit = new AuditLog(store.db, () => clock);
      intake = new CardIntake(store.db, audit, { ttlMs: 30 * MINUTE, now: () => clock });
      vault = await Vault.open(store.db, keys, audit, { now: () => clock });
    });
    afterEach(async () => {
      // Invariant 4 for everything the test stored: no test PAN or CVC in plaintext anywhere.
      // In any form: bare, hex, base64, JSON (test/helpers/card-secret-scan.ts).
      expect(findCardSecrets((await store.rawContent()).toString('latin1'))).toEqual([]);
      expect(await audit.verify()).toMatchObject({ ok: true });
      await store.close();
    });

    const count = async (sql: string, params: unknown[]) => Number((await store.db.query<{ n: number }>(sql, params))[0]!.n);

    it('seals a card into two opaque references, and tokenizes it into a random token with public metadata', async () => {
      const sealed = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api', merchantId: 'm_1' });
      expect(sealed.intakeRef).toMatch(/^int_[\w-]{22}$/);
      expect(sealed.cvvRef).toMatch(/^cvv_[\w-]{22}$/);
      const card = await vault.tokenize(sealed.intakeRef, { merchantId: 'm_test' });
      expect(card).toEqual({
        token: expect.stringMatching(/^tok_[\w-]{22}$/),
        fingerprint: expect.stringMatching(/^fp_[\w-]{22}$/),
        brand: 'visa',
        bin: '424242',
        last4: '4242',
        expMonth: 12,
        expYear: 2030,
        issuingCountry: 'US',
      });
      // The intake's PAN copy is erased as soon as it is tokenized.
      const [row] = await store.db.query<{ ciphertext: Buffer | null; wrapped_key: Buffer | null }>(
        'SELECT ciphertext, wrapped_key FROM card_intakes WHERE id = $1',
        [sealed.intakeRef],
      );
      expect(row).toEqual({ ciphertext: null, wrapped_key: null });
    });

    it('the same card gets the same fingerprint and token; another card does not; tokens are not derived from the PAN', async () => {
      const first = await vault.tokenize((await intake.seal(testCard(TEST_CARDS.mastercard), { actor: 'api' })).intakeRef, { merchantId: 'm_test' });
      const again = await vault.tokenize((await intake.seal(testCard(TEST_CARDS.mastercard, { exp_year: 2031 }), { actor: 'api' })).intakeRef, { merchantId: 'm_test' });
      const other = await vault.tokenize((await intake.seal(testCard(TEST_CARDS.amex), { actor: 'api' })).intakeRef, { merchantId: 'm_test' });
      expect(again.fingerprint).toBe(first.fingerprint);
      expect(again.token).toBe(first.token);
      expect(again.expYear).toBe(2031); // a reissued card keeps its number and token
      expect(other.fingerprint).not.toBe(first.fingerprint);
      expect(other).toMatchObject({ brand: 'amex', last4: '0005' });

      // Another vault (its own fingerprint secret) tokenizing the same card gets a different token
      // and fingerprint: neither is a function of the card number alone.
      const elsewhere = await backend.create();
      try {
        const otherAudit = new AuditLog(elsewhere.db);
        const otherKeys = new CachingKeyProvider(await kind.create());
        const otherVault = await Vault.open(elsewhere.db, otherKeys, otherAudit);
        const sealed = await new CardIntake(elsewhere.db, otherAudit, { ttlMs: MINUTE }).seal(testCard(TEST_CARDS.mastercard), { actor: 'api' });
        const there = await otherVault.tokenize(sealed.intakeRef, { merchantId: 'm_test' });
        expect(there.token).not.toBe(first.token);
        expect(there.fingerprint).not.toBe(first.fingerprint);
      } finally {
        await elsewhere.close();
      }
    });

    it('fingerprints are per merchant: one card, one token, a fingerprint at each merchant that the other cannot link', async () => {
      const at = (merchantId: string) => async () =>
        vault.tokenize((await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' })).intakeRef, { merchantId });
      const a1 = await at('m_fp_a')();
      const a2 = await at('m_fp_a')();
      const b = await at('m_fp_b')();
      expect(a2.fingerprint).toBe(a1.fingerprint);
      expect(b.fingerprint).not.toBe(a1.fingerprint);
      expect(b.token).toBe(a1.token); // the vault's one card: the fraud engine's key is derived from it, inside the workers
      expect(b.fingerprint).toMatch(/^fp_[\w-]{22}$/);
      // Neither merchant's fingerprint is the vault's own card key.
      const [row] = await store.db.query<{ fingerprint: string }>('SELECT fingerprint FROM cards WHERE token = $1', [a1.token]);
      expect([a1.fingerprint, b.fingerprint]).not.toContain(row!.fingerprint);
      expect((await vault.card(a1.token, 'm_fp_b')).fingerprint).toBe(b.fingerprint);
    });

    it('tokenizing the same intake twice (an activity retry) gives the same answer', async () => {
      const { intakeRef } = await intake.seal(testCard(TEST_CARDS.discover), { actor: 'api' });
      const first = await vault.tokenize(intakeRef, { merchantId: 'm_test' });
      expect(await vault.tokenize(intakeRef, { merchantId: 'm_test' })).toEqual(first);
      await expect(vault.tokenize('int_doesnotexistdoesnotexi', { merchantId: 'm_test' })).rejects.toThrow(VaultReferenceError);
    });

    it('gives PAN and CVV to an authorization, and after purgeCvv the CVV is gone for good', async () => {
      const sealed = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
      const { token } = await vault.tokenize(sealed.intakeRef, { merchantId: 'm_test' });
      const seen = await vault.withCardForAuthorization(token, sealed.cvvRef, EXPIRY, {}, async (card) => ({
        panMatches: card.pan === TEST_CARDS.visa,
        cvcMatches: card.cvc === TEST_CVCS[0],
        expiry: `${card.expMonth}/${card.expYear}`,
      }));
      expect(seen).toEqual({ panMatches: true, cvcMatches: true, expiry: '12/2030' });

      // Someone kept a copy of the CVV's ciphertext before the purge (test/integration/cvv-shredding.test.ts
      // shows that once its epoch is over, no key that still exists opens it).
      const [copy] = await store.db.query<{ ciphertext: Buffer }>('SELECT ciphertext FROM cvv_seals WHERE cvv_id = $1', [sealed.cvvRef]);
      expect(copy!.ciphertext.length).toBeGreaterThan(0);
      expect(await vault.purgeCvv(sealed.cvvRef)).toEqual({ purged: true });
      expect(await vault.purgeCvv(sealed.cvvRef)).toEqual({ purged: false }); // idempotent

      // The row and its wrapped key are gone (read directly from the table)...
      expect(await count('SELECT COUNT(*) AS n FROM cvv_records WHERE id = $1', [sealed.cvvRef])).toBe(0);
      expect(await count('SELECT COUNT(*) AS n FROM cvv_seals WHERE cvv_id = $1', [sealed.cvvRef])).toBe(0);
      // ...the vault cannot give it back...
      await expect(vault.withCardForAuthorization(token, sealed.cvvRef, EXPIRY, {}, async () => 'used')).rejects.toMatchObject({ code: 'cvv_not_found' });
      // ...and no data key left anywhere in the database opens the copy.
      for (const table of ['cards', 'cvv_records', 'card_intakes', 'vault_secrets']) {
        const rows = await store.db.query<{ key_id: string; key_version: number; wrapped_key: Buffer | null }>(
          `SELECT key_id, key_version, wrapped_key FROM ${table} WHERE wrapped_key IS NOT NULL`,
          [],
        );
        for (const row of rows) {
          for (const purpose of ['card-cvv', 'card-pan', 'card-intake', 'fingerprint-secret'] as const) {
            const key = await keys.unwrapDataKey({ keyId: row.key_id, keyVersion: row.key_version }, row.wrapped_key!, purpose).catch(() => undefined);
            if (key) expect(() => open(key, copy!.ciphertext, `cvv_records|${sealed.cvvRef}`, 'copy')).toThrow(CiphertextTamperedError);
          }
        }
      }
    });

    it('the time-to-live sweeper destroys a CVV and an intake that were never used', async () => {
      const unused = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
      clock += 29 * MINUTE;
      expect(await vault.sweepExpired()).toEqual({ cvvs: [], intakes: 0 });
      await vault.maintainCvvEpochs(); // what the sweeper does next: a fresh epoch to seal CVVs to
      const younger = await intake.seal(testCard(TEST_CARDS.mastercard), { actor: 'api' });
      clock += 2 * MINUTE; // the first is 31 minutes old, the second 2
      expect(await vault.sweepExpired()).toEqual({ cvvs: [unused.cvvRef], intakes: 1 });
      expect(await count('SELECT COUNT(*) AS n FROM cvv_records WHERE id = $1', [unused.cvvRef])).toBe(0);
      expect(await count('SELECT COUNT(*) AS n FROM card_intakes WHERE id = $1', [unused.intakeRef])).toBe(0);
      expect(await count('SELECT COUNT(*) AS n FROM cvv_records WHERE id = $1', [younger.cvvRef])).toBe(1);
      expect(await count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'cvv.expire' AND subject = $1", [unused.cvvRef])).toBe(1);
    });

    describe('tampering', () => {
      async function stored() {
        const a = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
        const b = await intake.seal(testCard(TEST_CARDS.mastercard), { actor: 'api' });
        return { a, b, tokenA: (await vault.tokenize(a.intakeRef, { merchantId: 'm_test' })).token, tokenB: (await vault.tokenize(b.intakeRef, { merchantId: 'm_test' })).token };
      }
      const flipLastByte = (buf: Buffer) => Buffer.concat([buf.subarray(0, -1), Buffer.from([buf[buf.length - 1]! ^ 0x01])]);

      it('one changed byte of a stored PAN or CVV ciphertext fails loudly', async () => {
        const { a, tokenA } = await stored();
        const [card] = await store.db.query<{ ciphertext: Buffer }>('SELECT ciphertext FROM cards WHERE token = $1', [tokenA]);
        await store.db.execute('UPDATE cards SET ciphertext = $1 WHERE token = $2', [flipLastByte(card!.ciphertext), tokenA]);
        await expect(vault.withCardForAuthorization(tokenA, a.cvvRef, EXPIRY, {}, async () => 'used')).rejects.toThrow(
          /card-pan record cards\|tok_.* failed authentication/,
        );
        const [cvv] = await store.db.query<{ ciphertext: Buffer }>('SELECT ciphertext FROM cvv_seals WHERE cvv_id = $1', [a.cvvRef]);
        await store.db.execute('UPDATE cvv_seals SET ciphertext = $1 WHERE cvv_id = $2', [flipLastByte(cvv!.ciphertext.subarray(0)), a.cvvRef]);
        await store.db.execute('UPDATE cards SET ciphertext = $1 WHERE token = $2', [card!.ciphertext, tokenA]);
        await expect(vault.withCardForAuthorization(tokenA, a.cvvRef, EXPIRY, {}, async () => 'used')).rejects.toThrow(CiphertextTamperedError);
      });

      it('one changed byte of a wrapped data key, or of an HPKE encapsulated key, fails loudly', async () => {
        const { a, tokenA } = await stored();
        const [card] = await store.db.query<{ wrapped_key: Buffer }>('SELECT wrapped_key FROM cards WHERE token = $1', [tokenA]);
        await store.db.execute('UPDATE cards SET wrapped_key = $1 WHERE token = $2', [flipLastByte(card!.wrapped_key), tokenA]);
        await expect(vault.withCardForAuthorization(tokenA, undefined, EXPIRY, {}, async () => 'used')).rejects.toThrow(KeyUnwrapError);
        const [cvv] = await store.db.query<{ enc: Buffer }>('SELECT enc FROM cvv_seals WHERE cvv_id = $1', [a.cvvRef]);
        await store.db.execute('UPDATE cvv_seals SET enc = $1 WHERE cvv_id = $2', [flipLastByte(cvv!.enc), a.cvvRef]);
        await expect(vault.withCardForAuthorization(tokenA, a.cvvRef, EXPIRY, {}, async () => 'used')).rejects.toThrow(CiphertextTamperedError);
        const other = await intake.seal(testCard(TEST_CARDS.amex), { actor: 'api' });
        const [sealedIntake] = await store.db.query<{ wrapped_key: Buffer }>('SELECT wrapped_key FROM card_intakes WHERE id = $1', [other.intakeRef]);
        await store.db.execute('UPDATE card_intakes SET wrapped_key = $1 WHERE id = $2', [flipLastByte(sealedIntake!.wrapped_key), other.intakeRef]);
        await expect(vault.tokenize(other.intakeRef, { merchantId: 'm_test' })).rejects.toThrow(CiphertextTamperedError);
      });

      it('a ciphertext moved to another record fails to decrypt', async () => {
        const { a, b, tokenA, tokenB } = await stored();
        await store.db.execute(
          `UPDATE cards SET ciphertext = (SELECT ciphertext FROM cards WHERE token = $1), wrapped_key = (SELECT wrapped_key FROM cards WHERE token = $1),
                            key_id = (SELECT key_id FROM cards WHERE token = $1), key_version = (SELECT key_version FROM cards WHERE token = $1)
           WHERE token = $2`,
          [tokenA, tokenB],
        );
        await expect(vault.withCardForAuthorization(tokenB, b.cvvRef, EXPIRY, {}, async () => 'used')).rejects.toThrow(CiphertextTamperedError);
        // The CVV of one payment cannot be used for another either.
        const [cvvA] = await store.db.query<{ ciphertext: Buffer; enc: Buffer }>('SELECT ciphertext, enc FROM cvv_seals WHERE cvv_id = $1', [a.cvvRef]);
        await store.db.execute('UPDATE cvv_seals SET ciphertext = $1, enc = $2 WHERE cvv_id = $3', [cvvA!.ciphertext, cvvA!.enc, b.cvvRef]);
        await expect(vault.withCardForAuthorization(tokenA, b.cvvRef, EXPIRY, {}, async () => 'used')).rejects.toThrow(CiphertextTamperedError);
      });
    });

    it('the wrong master key fails at start-up, not at the first payment', async () => {
      await vault.tokenize((await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' })).intakeRef, { merchantId: 'm_test' });
      if (kind.name === 'local') {
        // Another key file: the vault refuses to open on this database.
        await expect(Vault.open(store.db, await kind.create(), audit)).rejects.toThrow(KeyUnwrapError);
      } else {
        // KMS records which key wrapped each data key, so "wrong" means a key that is not usable:
        // the provider refuses to start.
        await expect(
          KmsKeyProvider.connect({ keyId: 'alias/not-a-key', region: kms!.region, endpoint: kms!.endpoint, credentials: kms!.credentials }),
        ).rejects.toThrow(/KMS key alias\/not-a-key is not usable/);
      }
    });

    it('rotation re-wraps every data key under the new master key without touching the data; old keys decrypt until then', async () => {
      const before = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
      const { token } = await vault.tokenize(before.intakeRef, { merchantId: 'm_test' });
      const [oldRow] = await store.db.query<{ key_id: string; key_version: number; ciphertext: Buffer }>(
        'SELECT key_id, key_version, ciphertext FROM cards WHERE token = $1',
        [token],
      );
      const rotated = new CachingKeyProvider(await kind.rotate(rawKeys));
      const newKey = rotated.currentKey();
      expect(newKey).not.toEqual({ keyId: oldRow!.key_id, keyVersion: oldRow!.key_version });

      // Before re-wrapping, a vault on the new master key still reads the old records. (A CVV is
      // not under the master key at all: only the vault instance holding its epoch key opens it.)
      const vaultAfter = await Vault.open(store.db, rotated, audit, { now: () => clock });
      const read = (v: Vault, cvvRef?: string) => v.withCardForAuthorization(token, cvvRef, EXPIRY, {}, async (c) => c.pan === TEST_CARDS.visa && (cvvRef === undefined || c.cvc === TEST_CVCS[0]));
      expect(await read(vaultAfter)).toBe(true);
      expect(await read(vault, before.cvvRef)).toBe(true);

      const report = await rewrapDataKeys(store.db, rotated, audit, 'operator:test');
      expect(report.to).toEqual(newKey);
      expect(report.rewrapped.cards).toBeGreaterThanOrEqual(1);
      expect(report.rewrapped.vault_secrets).toBe(2); // the fingerprint secret and the intake key's seed
      const stale = await count(
        `SELECT COUNT(*) AS n FROM (SELECT key_id, key_version FROM cards UNION ALL SELECT key_id, key_version FROM cvv_records WHERE key_id NOT LIKE 'hpke:%'
           UNION ALL SELECT key_id, key_version FROM vault_secrets) AS k WHERE NOT (key_id = $1 AND key_version = $2)`,
        [newKey.keyId, newKey.keyVersion],
      );
      expect(stale).toBe(0);
      const [newRow] = await store.db.query<{ ciphertext: Buffer }>('SELECT ciphertext FROM cards WHERE token = $1', [token]);
      expect(newRow!.ciphertext.equals(oldRow!.ciphertext)).toBe(true); // the data was not touched
      expect(await read(await Vault.open(store.db, rotated, audit))).toBe(true);
      const after = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
      expect(await vault.tokenize(after.intakeRef, { merchantId: 'm_test' })).toMatchObject({ token });
      expect(await read(vault, before.cvvRef)).toBe(true);
      expect(await count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'key.rotate'", [])).toBe(1);
      // Running it again finds nothing left to do.
      expect(Object.values((await rewrapDataKeys(store.db, rotated, audit, 'operator:test')).rewrapped)).toEqual([0, 0, 0, 0]);
    });
  },
);
