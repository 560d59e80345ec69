import path from 'node:path';
import type { Env } from '../../config/env';
import { CachingKeyProvider } from './data-key-cache';
import type { KeyProvider } from './key-provider';
import { KmsKeyProvider } from './kms-key-provider';
import { LocalKeyProvider } from './local-key-provider';

export function masterKeyFile(env: Env): string {
  return env.MASTER_KEY_FILE ?? path.join(env.DATA_DIR, 'keys', 'master-key.json');
}

/** The configured key provider, behind the data key cache. */
export async function openKeyProvider(env: Env): Promise<CachingKeyProvider> {
  const inner: KeyProvider =
    env.KEY_PROVIDER === 'aws-kms'
      ? await KmsKeyProvider.connect({ keyId: env.KMS_KEY_ID!, region: env.AWS_REGION, endpoint: env.KMS_ENDPOINT })
      : LocalKeyProvider.open(masterKeyFile(env));
  return new CachingKeyProvider(inner);
}
