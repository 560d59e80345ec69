import { ApiKeyError, ApiKeys } from '../../src/api/auth/api-keys';
import { postgresBackend, sqliteBackend, type Backend, type TestDatabase } from '../helpers/vault-backends';

/**
 * Merchants' API keys (src/api/auth/api-keys.ts) on both databases: a secret key carries every
 * merchant scope, a restricted key its own; only a hash is stored (the raw database bytes never
 * hold a key); a revoked, unknown or malformed key speaks for nobody.
 */
const backends: Backend[] = [sqliteBackend(), postgresBackend()];
afterAll(async () => {
  await Promise.all(backends.map((b) => b.stop()));
});

describe.each(backends.map((b) => [b.name, b] as const))('API keys on %s', (_name, backend) => {
  let database: TestDatabase;
  let keys: ApiKeys;
  beforeEach(async () => {
    database = await backend.create();
    keys = new ApiKeys(database.db);
  });
  afterEach(async () => {
    await database.close();
  });

  it('a secret key speaks for its merchant with every merchant scope; a restricted key with its own', async () => {
    const secret = await keys.create('m_keys');
    expect(secret.key).toMatch(/^sk_test_[A-Za-z0-9]{32}$/);
    expect(await keys.verify(secret.key)).toEqual({ subject: 'm_keys', kind: 'merchant', scopes: new Set(['payments:write', 'payments:read', 'refunds:write']) });
    const restricted = await keys.create('m_keys', ['payments:read']);
    expect(restricted.key).toMatch(/^rk_test_[A-Za-z0-9]{32}$/);
    expect((await keys.verify(restricted.key))?.scopes).toEqual(new Set(['payments:read']));
    expect(secret.key).not.toBe(restricted.key);
  });

  it('stores only a hash: no key is anywhere in the database, and the listing is redacted', async () => {
    const made = [await keys.create('m_a'), await keys.create('m_a', ['refunds:write']), await keys.create('m_b')];
    const raw = (await database.rawContent()).toString('latin1');
    for (const { key } of made) {
      expect(raw.includes(key)).toBe(false);
      expect(raw.includes(key.slice(8))).toBe(false);
    }
    const listed = await keys.list('m_a');
    // Keys made in the same millisecond list in id order: compared as sets.
    expect(listed.map((k) => k.redacted).sort()).toEqual(made.slice(0, 2).map(({ key }) => `${key.slice(0, 8)}…${key.slice(-4)}`).sort());
    expect(JSON.stringify(await keys.list())).not.toMatch(/[sr]k_test_[A-Za-z0-9]{32}/);
  });

  it('a revoked, unknown or malformed key is nobody; revoking twice keeps the first revocation', async () => {
    const { key, info } = await keys.create('m_revoke');
    expect(await keys.revoke(info.id)).toBe(true);
    expect(await keys.verify(key)).toBeUndefined();
    const [first] = await keys.list('m_revoke');
    expect(await keys.revoke(info.id)).toBe(true);
    expect((await keys.list('m_revoke'))[0]!.revokedAt).toBe(first!.revokedAt);
    expect(await keys.revoke('key_000000000000000000000000')).toBe(false);
    expect(await keys.verify(`sk_test_${'A'.repeat(32)}`)).toBeUndefined();
    expect(await keys.verify(`${key}x`)).toBeUndefined();
    expect(await keys.verify(key.replace('sk_test_', 'rk_test_'))).toBeUndefined();
  });

  it('refuses the ops scope, an empty scope list and a bad merchant id', async () => {
    await expect(keys.create('m_x', ['ops'])).rejects.toThrow(ApiKeyError);
    await expect(keys.create('m_x', [])).rejects.toThrow(ApiKeyError);
    await expect(keys.create('not a merchant')).rejects.toThrow(ApiKeyError);
    expect(await keys.list()).toEqual([]);
  });
});
