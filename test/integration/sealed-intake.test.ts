import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import { processEnv } from '../../src/cli/process-keys';
import { parseEnv } from '../../src/config/env';
import { openDb } from '../../src/storage/open-db';
import type { Db } from '../../src/storage/db';
import { CardIntake } from '../../src/vault/card-intake';
import { openKeyProvider, openPayloadKeyProvider } from '../../src/vault/keys/open-key-provider';
import { openVault, type VaultRuntime } from '../../src/vault/open-vault';
import { INTAKE_INFO, cvvInfo, cvvAad, intakeAad } from '../../src/vault/sealed-formats';
import { tryToOpen, type ProcessMaterial, type SealedTarget } from '../helpers/key-material-decryptor';
import { TEST_CARDS, TEST_CVCS, testCard } from '../helpers/test-cards';

/**
 * Issue 10, item 1 (acceptance): an intake and everything the API process has — the environment
 * `npm start` gives it, the key files named there, the key provider it opens, the database it
 * reads — given to a decryptor that tries every key and purpose it can build: nothing opens. The
 * vault worker opens it. As a control that the decryptor is not toothless, the vault worker's own
 * material (its master key file) opens the intake with it.
 */
describe('the API cannot open what it seals', () => {
  let dataDir: string;
  let base: NodeJS.ProcessEnv;
  let vault: VaultRuntime;
  let apiDb: Db;
  let intake: CardIntake;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealed-intake-'));
    // What `npm start` starts from; each process then gets processEnv(role, ...), as in src/cli/start.ts.
    base = { DATA_DIR: dataDir, LOG_LEVEL: 'silent', JWT_SECRET: 'a-test-jwt-secret-of-at-least-32-characters', PATH: process.env.PATH };
    const gateway = parseEnv(base);
    const vaultEnv = parseEnv(processEnv('vault', base, gateway));
    vault = await openVault(vaultEnv, await openKeyProvider(vaultEnv));
    apiDb = await openDb({ dataDir: parseEnv(processEnv('api', base, gateway)).DATA_DIR });
    intake = new CardIntake(apiDb, new AuditLog(apiDb), { ttlMs: 30 * 60_000 });
  });
  afterAll(async () => {
    await vault.vault.cvvEpochs.dropAll();
    await apiDb.close();
    await vault.db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function sealedTargets(): Promise<{ targets: SealedTarget[]; intakeRef: string; cvvRef: string }> {
    const sealed = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api', merchantId: 'm_sealed' });
    const [row] = await apiDb.query<{ wrapped_key: Buffer; ciphertext: Buffer }>('SELECT wrapped_key, ciphertext FROM card_intakes WHERE id = $1', [sealed.intakeRef]);
    const seals = await apiDb.query<{ epoch_id: string; enc: Buffer; ciphertext: Buffer }>('SELECT epoch_id, enc, ciphertext FROM cvv_seals WHERE cvv_id = $1', [sealed.cvvRef]);
    expect(seals).toHaveLength(1);
    return {
      intakeRef: sealed.intakeRef,
      cvvRef: sealed.cvvRef,
      targets: [
        { name: 'intake', enc: row!.wrapped_key, ciphertext: row!.ciphertext, info: INTAKE_INFO, aad: intakeAad(sealed.intakeRef) },
        ...seals.map((s) => ({ name: 'cvv', enc: s.enc, ciphertext: s.ciphertext, info: cvvInfo(s.epoch_id), aad: cvvAad(sealed.cvvRef) })),
      ],
    };
  }

  it('everything the API process has opens neither the intake nor the CVV; the vault opens both', async () => {
    const { targets, intakeRef, cvvRef } = await sealedTargets();
    const gateway = parseEnv(base);
    const apiEnv = processEnv('api', base, gateway);
    // The API's key provider, opened exactly as src/api/server.ts opens it (it creates the payload key file).
    const apiKeys = await openPayloadKeyProvider(parseEnv(apiEnv));
    expect(apiEnv.MASTER_KEY_FILE).toBeUndefined();
    expect(apiEnv.PAYLOAD_KEY_FILE).toBe(path.join(dataDir, 'keys', 'payload-key.json'));
    const apiMaterial: ProcessMaterial = {
      env: apiEnv,
      files: [apiEnv.PAYLOAD_KEY_FILE!],
      providers: [apiKeys],
      db: apiDb,
    };
    const report = await tryToOpen(apiMaterial, targets);
    expect(report.opened).toEqual([]);
    // It really tried: the payload key file's key, every env value, every wrapped key for every purpose.
    expect(report.secrets).toBeGreaterThanOrEqual(5);
    expect(report.attempts).toBeGreaterThan(100);

    // The vault opens both.
    const card = await vault.vault.tokenize(intakeRef, { merchantId: 'm_sealed' });
    expect(card).toMatchObject({ brand: 'visa', last4: '4242' });
    const seen = await vault.vault.withCardForAuthorization(card.token, cvvRef, { expMonth: 12, expYear: 2030 }, {}, async (c) => ({
      pan: c.pan === TEST_CARDS.visa,
      cvc: c.cvc === TEST_CVCS[0],
    }));
    expect(seen).toEqual({ pan: true, cvc: true });
  });

  it('control: the same decryptor with the vault worker\'s key file opens the intake, and still not the CVV (its key is only in the vault\'s memory)', async () => {
    const { targets } = await sealedTargets();
    const vaultEnv = processEnv('vault', base, parseEnv(base));
    expect(vaultEnv.MASTER_KEY_FILE).toBe(path.join(dataDir, 'keys', 'master-key.json'));
    const report = await tryToOpen({ env: vaultEnv, files: [vaultEnv.MASTER_KEY_FILE!], providers: [], db: apiDb }, targets);
    expect(report.opened.map((o) => o.target)).toContain('intake');
    expect(report.opened.find((o) => o.target === 'cvv')).toBeUndefined();
  });

  it('the API is given the payload key only, the other workers too; the vault worker alone the master key; the sandbox nothing', () => {
    const gateway = parseEnv({ ...base, MASTER_KEY_FILE: path.join(dataDir, 'elsewhere', 'master.json') });
    for (const role of ['api', 'payments', 'fraud', 'acquirer', 'records'] as const) {
      const env = processEnv(role, { ...base, MASTER_KEY_FILE: path.join(dataDir, 'elsewhere', 'master.json') }, gateway);
      expect([role, env.MASTER_KEY_FILE, env.PAYLOAD_KEY_FILE]).toEqual([role, undefined, path.join(dataDir, 'keys', 'payload-key.json')]);
    }
    expect(processEnv('vault', base, gateway).MASTER_KEY_FILE).toBe(path.join(dataDir, 'elsewhere', 'master.json'));
    const sandbox = processEnv('acquirer-sandbox', base, gateway);
    expect([sandbox.MASTER_KEY_FILE, sandbox.PAYLOAD_KEY_FILE]).toEqual([undefined, undefined]);
  });

  it('the payload key provider refuses every card purpose, and the card key provider refuses Temporal payloads', async () => {
    const env = parseEnv(processEnv('vault', base, parseEnv(base)));
    const payload = await openPayloadKeyProvider(env);
    const card = await openKeyProvider(env);
    for (const purpose of ['card-intake', 'card-pan', 'card-cvv', 'fingerprint-secret'] as const) {
      await expect(payload.generateDataKey(purpose)).rejects.toThrow(/serves only temporal-payload/);
    }
    await expect(card.generateDataKey('temporal-payload')).rejects.toThrow(/serves only card-intake/);
    expect(payload.currentKey().keyId).toBe('local-payload');
    expect(card.currentKey().keyId).toBe('local-master');
  });
});
