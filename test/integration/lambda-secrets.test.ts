import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { initContainer } from '../../src/api/lambda';
import { resolveLambdaSecrets } from '../../src/api/lambda/lambda-secrets';
import { startKmsServer, type KmsServer } from '../helpers/kms-server';

/**
 * The API function's secrets read at init from a real Secrets Manager API: moto's server (the one
 * the KMS tests start, .ci/install-kms.sh), through @aws-sdk/client-secrets-manager as on AWS.
 */
describe('the Lambda function reads DATABASE_URL and the Temporal mTLS pair from Secrets Manager at init', () => {
  let server: KmsServer;
  let client: SecretsManagerClient;
  let tlsDir: string;
  const PEM_CERT = '-----BEGIN CERTIFICATE-----\nnot-a-certificate\n-----END CERTIFICATE-----\n';
  const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n';
  const secret = async (name: string, value: string) =>
    (await client.send(new CreateSecretCommand({ Name: `${name}-${randomUUID()}`, SecretString: value }))).ARN!;

  beforeAll(async () => {
    server = await startKmsServer();
    client = new SecretsManagerClient({ endpoint: server.endpoint, region: server.region, credentials: server.credentials });
  }, 360_000);
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });
  beforeEach(() => {
    tlsDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lambda-secrets-')), 'tls');
  });

  it('sets DATABASE_URL and writes the pair to owner-only files whose paths become TEMPORAL_TLS_CERT/KEY', async () => {
    const databaseArn = await secret('db-url', 'postgresql://gateway:pw@db.internal:5432/gateway');
    const mtlsArn = await secret('mtls', JSON.stringify({ cert: PEM_CERT, key: PEM_KEY }));
    const env = await resolveLambdaSecrets({ NODE_ENV: 'production', DATABASE_URL_SECRET_ARN: databaseArn, TEMPORAL_MTLS_SECRET_ARN: mtlsArn }, { client, tlsDir });
    expect(env.DATABASE_URL).toBe('postgresql://gateway:pw@db.internal:5432/gateway');
    expect(fs.readFileSync(env.TEMPORAL_TLS_CERT!, 'utf8')).toBe(PEM_CERT);
    expect(fs.readFileSync(env.TEMPORAL_TLS_KEY!, 'utf8')).toBe(PEM_KEY);
    expect(fs.statSync(env.TEMPORAL_TLS_KEY!).mode & 0o777).toBe(0o600);
    expect(fs.statSync(tlsDir).mode & 0o777).toBe(0o700);
  });

  it('leaves an environment without ARNs as it is', async () => {
    const given = { DATABASE_URL: 'postgresql://local/gateway' };
    expect(await resolveLambdaSecrets(given, { client, tlsDir })).toBe(given);
  });

  it('names the variable, and never the content, when the mTLS secret is not {"cert","key"}', async () => {
    const arn = await secret('mtls-bad', JSON.stringify({ cert: 'secret-looking-text' }));
    const failure = resolveLambdaSecrets({ TEMPORAL_MTLS_SECRET_ARN: arn }, { client, tlsDir });
    await expect(failure).rejects.toThrow(/^Invalid configuration: TEMPORAL_MTLS_SECRET_ARN names a secret that is not JSON/);
    await expect(failure).rejects.not.toThrow(/secret-looking-text/);
    expect(fs.existsSync(tlsDir)).toBe(false);
  });

  it('refuses a value and its ARN together', async () => {
    await expect(resolveLambdaSecrets({ DATABASE_URL: 'postgresql://x/y', DATABASE_URL_SECRET_ARN: 'arn:x' }, { client, tlsDir })).rejects.toThrow(
      /DATABASE_URL_SECRET_ARN is set together with DATABASE_URL/,
    );
  });

  it('fails the container at init, naming the variable, when a secret cannot be read', async () => {
    const missing = `arn:aws:secretsmanager:${server.region}:123456789012:secret:absent-AbCdEf`;
    await expect(initContainer({ NODE_ENV: 'production', DATABASE_URL_SECRET_ARN: missing }, undefined, { client, tlsDir })).rejects.toThrow(
      /^Invalid configuration: DATABASE_URL_SECRET_ARN names a secret that could not be read \(ResourceNotFoundException/,
    );
  });
});
