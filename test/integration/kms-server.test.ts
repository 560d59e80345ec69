import {
  DecryptCommand,
  GenerateDataKeyCommand,
  InvalidCiphertextException,
  KMSClient,
  KMSServiceException,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { createKmsKey, startKmsServer, type KmsServer } from '../helpers/kms-server';

/**
 * The KMS-compatible test server (moto_server) against the real AWS SDK: envelope-encryption calls
 * the vault relies on, including the binding of a data key to its encryption context.
 */
describe('KMS-compatible server (moto_server)', () => {
  let server: KmsServer;
  let kms: KMSClient;
  let keyA: string;
  let keyB: string;

  const context = { purpose: 'card-vault', tenant: 'merchant-1' };

  beforeAll(async () => {
    server = await startKmsServer();
    kms = new KMSClient({ endpoint: server.endpoint, region: server.region, credentials: server.credentials });
    keyA = await createKmsKey(server, 'vault key A');
    keyB = await createKmsKey(server, 'vault key B');
  });

  afterAll(async () => {
    kms?.destroy();
    await server?.stop();
  });

  async function generate() {
    const out = await kms.send(new GenerateDataKeyCommand({ KeyId: keyA, KeySpec: 'AES_256', EncryptionContext: context }));
    expect(out.Plaintext).toBeInstanceOf(Uint8Array);
    expect(out.CiphertextBlob).toBeInstanceOf(Uint8Array);
    return { plaintext: Buffer.from(out.Plaintext!), ciphertext: out.CiphertextBlob!, keyId: out.KeyId };
  }

  /** The error a KMS call rejects with (fails the test if it resolves). */
  async function errorOf(promise: Promise<unknown>): Promise<KMSServiceException> {
    const error = await promise.then(
      () => {
        throw new Error('expected the KMS call to fail, but it succeeded');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KMSServiceException);
    return error as KMSServiceException;
  }

  it('listens on loopback with dummy credentials', () => {
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.region).toBe('us-east-1');
    expect(keyA).toMatch(/^arn:aws:kms:us-east-1:\d{12}:key\/[0-9a-f-]{36}$/);
    expect(keyB).not.toBe(keyA);
  });

  it('GenerateDataKey returns a 32-byte key that Decrypt recovers with the same context', async () => {
    const { plaintext, ciphertext, keyId } = await generate();
    expect(plaintext).toHaveLength(32);
    expect(keyId).toBe(keyA);

    const out = await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { ...context } }));
    expect(Buffer.from(out.Plaintext!).equals(plaintext)).toBe(true);
    expect(out.KeyId).toBe(keyA);
  });

  it('Decrypt with a different encryption context fails (the context is bound to the ciphertext)', async () => {
    const { ciphertext } = await generate();
    const wrongContexts: Record<string, string>[] = [
      { ...context, tenant: 'merchant-2' }, // changed value
      { purpose: 'card-vault' }, // missing pair
      { ...context, extra: 'x' }, // added pair
      {}, // none
    ];
    for (const wrong of wrongContexts) {
      const error = await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: wrong })));
      expect(error).toBeInstanceOf(InvalidCiphertextException);
      expect(error.name).toBe('InvalidCiphertextException');
      expect(error.$metadata.httpStatusCode).toBe(400);
    }
  });

  it('Decrypt of garbage or tampered ciphertext fails', async () => {
    // Too short to be a ciphertext blob: InvalidCiphertextException, as AWS answers.
    const short = await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('not a ciphertext') })));
    expect(short).toBeInstanceOf(InvalidCiphertextException);

    // A real blob with one byte of the encrypted body flipped: the GCM tag check fails.
    const { ciphertext } = await generate();
    const tampered = Buffer.from(ciphertext);
    const last = tampered.length - 1;
    tampered.writeUInt8(tampered.readUInt8(last) ^ 0x01, last);
    const flipped = await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context })));
    expect(flipped).toBeInstanceOf(InvalidCiphertextException);

    // Longer garbage: moto reads its first 36 bytes as a key id and answers AccessDeniedException
    // (unmodelled in the SDK, so a plain KMSServiceException named so). Real AWS KMS answers
    // InvalidCiphertextException here: callers must treat both as "cannot decrypt".
    const long = await errorOf(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.alloc(128, 0x42) })));
    expect(['AccessDeniedException', 'InvalidCiphertextException']).toContain(long.name);
  });

  it('ReEncrypt moves a data key to a second key; it decrypts to the same plaintext', async () => {
    const { plaintext, ciphertext } = await generate();
    const newContext = { ...context, rotated: 'yes' };
    const out = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: ciphertext,
        SourceEncryptionContext: context,
        DestinationKeyId: keyB,
        DestinationEncryptionContext: newContext,
      }),
    );
    expect(out.SourceKeyId).toBe(keyA);
    expect(out.KeyId).toBe(keyB);
    expect(Buffer.from(out.CiphertextBlob!).equals(Buffer.from(ciphertext))).toBe(false);

    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: newContext }));
    expect(decrypted.KeyId).toBe(keyB);
    expect(Buffer.from(decrypted.Plaintext!).equals(plaintext)).toBe(true);

    // The new blob is bound to the destination context, and ReEncrypt checks the source context.
    await expect(
      kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: context })),
    ).rejects.toBeInstanceOf(InvalidCiphertextException);
    await expect(
      kms.send(new ReEncryptCommand({ CiphertextBlob: ciphertext, SourceEncryptionContext: {}, DestinationKeyId: keyB })),
    ).rejects.toBeInstanceOf(InvalidCiphertextException);
  });
});
