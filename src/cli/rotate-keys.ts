/**
 * `npm run keys:rotate`: moves the vault to a new master key (docs/vault.md, "Key rotation").
 *
 * Local provider: adds a new key version to the master key file and makes it current.
 * AWS KMS: rotates to the key named by `--to <key id|ARN|alias>` (the old key must stay enabled
 * until this finishes; afterwards set KMS_KEY_ID to the new key everywhere).
 * Then every stored data key still under an older master key is re-wrapped; the data is not
 * touched, and the audit log records the rotation. Re-running it is safe.
 */
import { AuditLog } from '../audit/audit-log';
import { loadEnv } from '../config/env';
import { openDb } from '../storage/open-db';
import type { KeyProvider } from '../vault/keys/key-provider';
import { KmsKeyProvider } from '../vault/keys/kms-key-provider';
import { LocalKeyProvider } from '../vault/keys/local-key-provider';
import { masterKeyFile } from '../vault/keys/open-key-provider';
import { rewrapDataKeys } from '../vault/key-rotation';

async function main(): Promise<void> {
  const env = loadEnv();
  const toIndex = process.argv.indexOf('--to');
  const rewrapOnly = process.argv.includes('--rewrap-only');
  let keys: KeyProvider;
  if (env.KEY_PROVIDER === 'aws-kms') {
    const to = toIndex > 0 ? process.argv[toIndex + 1] : undefined;
    if (!to && !rewrapOnly) throw new Error('With AWS KMS, name the new key: npm run keys:rotate -- --to <key id, ARN or alias>');
    keys = await KmsKeyProvider.connect({ keyId: to ?? env.KMS_KEY_ID!, region: env.AWS_REGION, endpoint: env.KMS_ENDPOINT });
  } else {
    const local = LocalKeyProvider.open(masterKeyFile(env), { create: false });
    if (!rewrapOnly) local.addVersion();
    keys = local;
  }
  const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
  try {
    const report = await rewrapDataKeys(db, keys, new AuditLog(db), `operator:${process.env.USER ?? 'unknown'}`);
    console.log(`master key now ${report.to.keyId} v${report.to.keyVersion}`);
    for (const [table, count] of Object.entries(report.rewrapped)) console.log(`  ${table}: ${count} data key(s) re-wrapped`);
    console.log('Running processes keep decrypting; restart them to encrypt new records under the new key.');
  } finally {
    await db.close();
  }
}

main().catch((err: Error) => {
  console.error(`keys:rotate failed: ${err.message}`);
  process.exit(1);
});
