import type { Db } from '../storage/db';
import type { KeyProvider, KeyPurpose } from './keys/key-provider';

/**
 * One of the vault's long-lived secrets (the fingerprint HMAC key, the intake key's seed), kept in
 * `vault_secrets` as a data key wrapped by the vault's key provider for its purpose, and re-wrapped
 * with the rest when the master key rotates. Created on first use; two vault workers may start
 * together, so the first insert wins and both use the stored one. Returns a copy of the unwrapped
 * secret, which the caller may zero when done.
 */
export async function loadVaultSecret(db: Db, keys: KeyProvider, name: string, purpose: KeyPurpose, now: () => number): Promise<Buffer> {
  const read = () =>
    db.query<{ key_id: string; key_version: number; wrapped_key: Buffer }>('SELECT key_id, key_version, wrapped_key FROM vault_secrets WHERE name = $1', [
      name,
    ]);
  let [row] = await read();
  if (!row) {
    const key = await keys.generateDataKey(purpose);
    await db.execute(
      `INSERT INTO vault_secrets (name, created_at, key_id, key_version, wrapped_key) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO NOTHING`,
      [name, now(), key.keyId, key.keyVersion, key.wrapped],
    );
    [row] = await read();
  }
  // A copy: the caching key provider keeps the unwrapped key it returned, and the caller may zero this one.
  return Buffer.from(await keys.unwrapDataKey({ keyId: row!.key_id, keyVersion: row!.key_version }, row!.wrapped_key, purpose));
}
