import { parseEnv } from '../../src/config/env';
import { openKeyProvider, openPayloadKeyProvider } from '../../src/vault/keys/open-key-provider';
import { createKmsKey, startKmsServer, type KmsServer } from '../helpers/kms-server';

/**
 * PAYLOAD_KMS_KEY_ID: with KMS, the Temporal payload key is a KMS key apart from the card key, so
 * the AWS roles of the API and the non-vault workers need nothing on the card key
 * (docs/deploy-aws.md). Against a real KMS-compatible server (moto).
 */
describe('a payload KMS key apart from the card key', () => {
  let kms: KmsServer;
  let cardKey: string;
  let payloadKey: string;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  beforeAll(async () => {
    kms = await startKmsServer();
    [cardKey, payloadKey] = [await createKmsKey(kms, 'card'), await createKmsKey(kms, 'payload')];
    // The providers take credentials from the SDK's default chain, as on AWS (the task role).
    process.env.AWS_ACCESS_KEY_ID = kms.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = kms.credentials.secretAccessKey;
  }, 120_000);
  afterAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = saved.id;
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    await kms?.stop();
  });

  const kmsEnv = (keys: NodeJS.ProcessEnv) => parseEnv({ KEY_PROVIDER: 'aws-kms', KMS_ENDPOINT: kms.endpoint, AWS_REGION: kms.region, LOG_LEVEL: 'silent', ...keys });

  it('the vault worker wraps cards under KMS_KEY_ID and payloads under PAYLOAD_KMS_KEY_ID', async () => {
    const env = kmsEnv({ KMS_KEY_ID: cardKey, PAYLOAD_KMS_KEY_ID: payloadKey });
    const [card, payload] = [await openKeyProvider(env), await openPayloadKeyProvider(env)];
    expect(card.currentKey().keyId).toBe(cardKey);
    expect(payload.currentKey().keyId).toBe(payloadKey);
    const key = await payload.generateDataKey('temporal-payload');
    expect(key.keyId).toBe(payloadKey);
    expect((await payload.unwrapDataKey(key, key.wrapped, 'temporal-payload')).equals(key.plaintext)).toBe(true);
  });

  it('a process given only PAYLOAD_KMS_KEY_ID opens the payload key, and no card key provider', async () => {
    const env = kmsEnv({ PAYLOAD_KMS_KEY_ID: payloadKey });
    expect((await openPayloadKeyProvider(env)).currentKey().keyId).toBe(payloadKey);
    await expect(openKeyProvider(env)).rejects.toThrow(/KMS_KEY_ID must be set for the card key provider/);
  });

  it('unset, KMS_KEY_ID serves both (the single-key set-up of docs/vault.md); neither set is refused at start', async () => {
    expect((await openPayloadKeyProvider(kmsEnv({ KMS_KEY_ID: cardKey }))).currentKey().keyId).toBe(cardKey);
    expect(() => kmsEnv({})).toThrow(/KMS_KEY_ID must be set when KEY_PROVIDER=aws-kms/);
  });
});
