import type { webcrypto } from 'node:crypto';
import type { Db } from '../storage/db';
import { deriveHpkeKeyPair } from './crypto/hpke';
import type { KeyProvider } from './keys/key-provider';
import { INTAKE_KEY_NAME } from './sealed-formats';

/**
 * The vault's intake key pair (docs/vault.md, "Keys"). Its private half is derived (RFC 9180
 * DeriveKeyPair) from a 32-byte seed kept like every vault secret: a data key wrapped by the
 * vault's key provider for purpose `card-intake` (the local master key file only the vault worker
 * is given, or AWS KMS where only the vault's role may `kms:Decrypt`), re-wrapped on rotation.
 * Its public half is published in `vault_public_keys` for the API, which needs no key provider.
 */
export async function loadIntakeKey(db: Db, keys: KeyProvider, now: () => number): Promise<webcrypto.CryptoKey> {
  const read = () =>
    db.query<{ key_id: string; key_version: number; wrapped_key: Buffer }>('SELECT key_id, key_version, wrapped_key FROM vault_secrets WHERE name = $1', [
      INTAKE_KEY_NAME,
    ]);
  let [row] = await read();
  if (!row) {
    const seed = await keys.generateDataKey('card-intake');
    // Two vault workers may start together: the first insert wins and both use the stored one.
    await db.execute(
      `INSERT INTO vault_secrets (name, created_at, key_id, key_version, wrapped_key) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO NOTHING`,
      [INTAKE_KEY_NAME, now(), seed.keyId, seed.keyVersion, seed.wrapped],
    );
    [row] = await read();
  }
  const seed = Buffer.from(await keys.unwrapDataKey({ keyId: row!.key_id, keyVersion: row!.key_version }, row!.wrapped_key, 'card-intake'));
  try {
    const pair = await deriveHpkeKeyPair(seed);
    await db.execute(
      `INSERT INTO vault_public_keys (name, created_at, public_key) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET public_key = excluded.public_key`,
      [INTAKE_KEY_NAME, now(), pair.publicKey],
    );
    return pair.privateKey;
  } finally {
    seed.fill(0);
  }
}
