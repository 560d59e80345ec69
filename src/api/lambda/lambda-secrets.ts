import fs from 'node:fs';
import path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { ConfigError } from '../../config/env';

/**
 * The function's secrets, read from Secrets Manager once per container during Lambda's init phase
 * (docs/deploy-aws.md, "Secrets on the Lambda function"). Lambda has nothing like ECS `Secrets`,
 * and a secret in a plain environment variable shows to anyone who can read the function's
 * configuration, so the template gives the function only the secrets' ARNs:
 *
 * - `DATABASE_URL_SECRET_ARN`: a secret whose string is the postgres:// URL → `DATABASE_URL`.
 * - `TEMPORAL_MTLS_SECRET_ARN`: a secret `{"cert": "<PEM>", "key": "<PEM>"}` → written to files
 *   (0600, in a 0700 directory under /tmp, the only writable place in a Lambda container) whose
 *   paths become `TEMPORAL_TLS_CERT` and `TEMPORAL_TLS_KEY`, which is how the code reads a client
 *   certificate everywhere else (the ECS tasks' entry point does the same).
 *
 * Without either ARN the environment is returned as it is: local runs and the tests' stacks set
 * DATABASE_URL and the TLS paths directly. Setting both a value and its ARN is refused, so it is
 * never unclear which one is in force.
 */
export const DATABASE_URL_SECRET_ARN = 'DATABASE_URL_SECRET_ARN';
export const TEMPORAL_MTLS_SECRET_ARN = 'TEMPORAL_MTLS_SECRET_ARN';

const MtlsSecret = z.object({
  cert: z.string().includes('-----BEGIN', { message: 'cert must be a PEM certificate' }),
  key: z.string().includes('-----BEGIN', { message: 'key must be a PEM private key' }),
});

export interface LambdaSecretsOptions {
  /** The client to read with; the AWS default (the function's role, its region) when absent. */
  client?: SecretsManagerClient;
  /** Where the mTLS pair is written. */
  tlsDir?: string;
}

export async function resolveLambdaSecrets(source: NodeJS.ProcessEnv, options: LambdaSecretsOptions = {}): Promise<NodeJS.ProcessEnv> {
  const databaseArn = source[DATABASE_URL_SECRET_ARN]?.trim();
  const mtlsArn = source[TEMPORAL_MTLS_SECRET_ARN]?.trim();
  if (!databaseArn && !mtlsArn) return source;
  if (databaseArn && source.DATABASE_URL) throw new ConfigError(DATABASE_URL_SECRET_ARN, 'is set together with DATABASE_URL: set one of them');
  if (mtlsArn && (source.TEMPORAL_TLS_CERT || source.TEMPORAL_TLS_KEY)) {
    throw new ConfigError(TEMPORAL_MTLS_SECRET_ARN, 'is set together with TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: set one of them');
  }

  const client = options.client ?? new SecretsManagerClient({});
  const resolved: NodeJS.ProcessEnv = { ...source };
  try {
    if (databaseArn) resolved.DATABASE_URL = await secretString(client, DATABASE_URL_SECRET_ARN, databaseArn);
    if (mtlsArn) {
      const raw = await secretString(client, TEMPORAL_MTLS_SECRET_ARN, mtlsArn);
      let parsed: z.infer<typeof MtlsSecret>;
      try {
        parsed = MtlsSecret.parse(JSON.parse(raw));
      } catch {
        // Never the secret's content in the message: only what shape was expected.
        throw new ConfigError(TEMPORAL_MTLS_SECRET_ARN, 'names a secret that is not JSON {"cert": "<PEM>", "key": "<PEM>"}');
      }
      const dir = options.tlsDir ?? path.join('/tmp', 'temporal-tls');
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const cert = path.join(dir, 'client.pem');
      const key = path.join(dir, 'client.key');
      fs.writeFileSync(cert, parsed.cert, { mode: 0o600 });
      fs.writeFileSync(key, parsed.key, { mode: 0o600 });
      resolved.TEMPORAL_TLS_CERT = cert;
      resolved.TEMPORAL_TLS_KEY = key;
    }
  } finally {
    if (!options.client) client.destroy();
  }
  return resolved;
}

async function secretString(client: SecretsManagerClient, variable: string, arn: string): Promise<string> {
  let value: string | undefined;
  try {
    value = (await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
  } catch (err) {
    throw new ConfigError(variable, `names a secret that could not be read (${(err as Error).name}: ${(err as Error).message})`);
  }
  if (!value) throw new ConfigError(variable, 'names a secret with no string value');
  return value;
}
