import type { webcrypto } from 'node:crypto';
import type { Db } from '../storage/db';
import { deriveHpkeKeyPair } from './crypto/hpke';
import type { KeyProvider } from './keys/key-provider';
import { INTAKE_KEY_NAME } from './sealed-formats';
import { loadVaultSecret } from './vault-secrets';

/**
 * The vault's intake key pair (docs/vault.md, "Keys"). Its private half is derived (RFC 9180
 * DeriveKeyPair) from a 32-byte seed kept like every vault secret: a data key wrapped by the
 * vault's key provider for purpose `card-intake` (the local master key file only the vault worker
 * is given, or AWS KMS where only the vault's role may `kms:Decrypt`), re-wrapped on rotation.
 * Its public half is published in `vault_public_keys` for the API, which needs no key provider.
 */
export async function loadIntakeKey(db: Db, keys: KeyProvider, now: () => number): Promise<webcrypto.CryptoKey> {
  const seed = await loadVaultSecret(db, keys, INTAKE_KEY_NAME, 'card-intake', now);
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
