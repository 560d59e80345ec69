import path from 'node:path';
import { ConfigError, type Env } from '../../config/env';
import { CachingKeyProvider } from './data-key-cache';
import type { KeyProvider, KeyPurpose } from './key-provider';
import { KmsKeyProvider } from './kms-key-provider';
import { LocalKeyProvider } from './local-key-provider';
import { PurposeRestrictedKeyProvider } from './purpose-restricted';

/** What the vault's master key wraps: card data and the vault's own secrets. Only the vault worker opens it. */
export const CARD_KEY_PURPOSES: readonly KeyPurpose[] = ['card-intake', 'card-pan', 'card-cvv', 'fingerprint-secret'];
/** What the payload key wraps: Temporal payloads, and nothing else. Every process opens it. */
export const PAYLOAD_KEY_PURPOSES: readonly KeyPurpose[] = ['temporal-payload'];
/** The key id of the local payload key file, distinct from the master key's. */
export const LOCAL_PAYLOAD_KEY_ID = 'local-payload';

/** The vault's master key file (vault worker and `keys:rotate` only); default DATA_DIR/keys/master-key.json. */
export function masterKeyFile(env: Env): string {
  return env.MASTER_KEY_FILE ?? path.join(env.DATA_DIR, 'keys', 'master-key.json');
}

/** The Temporal payload key file every process is given; default DATA_DIR/keys/payload-key.json. */
export function payloadKeyFile(env: Env): string {
  return env.PAYLOAD_KEY_FILE ?? path.join(env.DATA_DIR, 'keys', 'payload-key.json');
}

/**
 * The vault worker's card key provider, behind the data key cache: card data and the vault's
 * secrets only (DESIGN.md §2: only the vault can decrypt card data). No other process opens it.
 */
export async function openKeyProvider(env: Env): Promise<CachingKeyProvider> {
  if (env.KEY_PROVIDER === 'aws-kms' && env.KMS_KEY_ID === undefined) {
    throw new ConfigError('KMS_KEY_ID', 'must be set for the card key provider (the vault worker) when KEY_PROVIDER=aws-kms');
  }
  const inner: KeyProvider =
    env.KEY_PROVIDER === 'aws-kms'
      ? await KmsKeyProvider.connect({ keyId: env.KMS_KEY_ID!, region: env.AWS_REGION, endpoint: env.KMS_ENDPOINT })
      : LocalKeyProvider.open(masterKeyFile(env));
  return new CachingKeyProvider(new PurposeRestrictedKeyProvider(inner, CARD_KEY_PURPOSES, 'vault card key provider'));
}

/**
 * The Temporal payload codec's key provider, which every process (API and workers) has. Locally a
 * key file of its own, distinct from the master key; with AWS KMS the same key with the purpose
 * `temporal-payload` in the encryption context, which is all the non-vault roles may use
 * (docs/vault.md, "Least privilege with AWS KMS") — on PAYLOAD_KMS_KEY_ID when set, a key apart
 * from the card key, so no role but the vault's needs any permission on the card key. It refuses
 * every card purpose.
 */
export async function openPayloadKeyProvider(env: Env): Promise<CachingKeyProvider> {
  const inner: KeyProvider =
    env.KEY_PROVIDER === 'aws-kms'
      ? await KmsKeyProvider.connect({ keyId: (env.PAYLOAD_KMS_KEY_ID ?? env.KMS_KEY_ID)!, region: env.AWS_REGION, endpoint: env.KMS_ENDPOINT })
      : LocalKeyProvider.open(payloadKeyFile(env), { create: true, keyId: LOCAL_PAYLOAD_KEY_ID });
  return new CachingKeyProvider(new PurposeRestrictedKeyProvider(inner, PAYLOAD_KEY_PURPOSES, 'payload key provider'));
}
