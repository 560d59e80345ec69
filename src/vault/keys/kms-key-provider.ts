import { DecryptCommand, DescribeKeyCommand, GenerateDataKeyCommand, KMSClient, ReEncryptCommand } from '@aws-sdk/client-kms';
import { KeyUnwrapError, type DataKey, type KeyProvider, type KeyPurpose, type MasterKeyRef } from './key-provider';

export interface KmsOptions {
  /** Key id, ARN or alias of the symmetric KMS key that wraps data keys. */
  keyId: string;
  region: string;
  /** A KMS-compatible endpoint (tests, VPC endpoints); the AWS default when absent. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * AWS KMS as the key provider: `GenerateDataKey` for new data keys, `Decrypt` to unwrap,
 * `ReEncrypt` to rotate to another key without the plaintext key leaving KMS. The purpose goes in
 * the encryption context, so KMS refuses to unwrap a key for a purpose other than its own — and
 * CloudTrail records which purpose every call served.
 *
 * Least privilege is IAM's job here: the API's role gets `kms:GenerateDataKey` only, the vault
 * worker's role also `kms:Decrypt` (docs/keys.md).
 */
export class KmsKeyProvider implements KeyProvider {
  readonly kind = 'aws-kms' as const;
  /** KMS requests made, for the benchmark's "KMS calls per 1,000 operations". */
  calls = 0;

  private constructor(
    private readonly client: KMSClient,
    private readonly keyArn: string,
  ) {}

  /** Resolves the configured key to its ARN, failing at start-up if KMS or the key is not there. */
  static async connect(options: KmsOptions): Promise<KmsKeyProvider> {
    const client = new KMSClient({ region: options.region, endpoint: options.endpoint, credentials: options.credentials });
    try {
      const described = await client.send(new DescribeKeyCommand({ KeyId: options.keyId }));
      const arn = described.KeyMetadata?.Arn;
      if (!arn) throw new Error('no ARN in DescribeKey');
      if (described.KeyMetadata?.KeyState !== 'Enabled') throw new Error(`key state is ${described.KeyMetadata?.KeyState}`);
      return new KmsKeyProvider(client, arn);
    } catch (err) {
      throw new Error(`KMS key ${options.keyId} is not usable${options.endpoint ? ` at ${options.endpoint}` : ''}: ${(err as Error).message}`);
    }
  }

  currentKey(): MasterKeyRef {
    return { keyId: this.keyArn, keyVersion: 0 };
  }

  async generateDataKey(purpose: KeyPurpose): Promise<DataKey> {
    this.calls++;
    const out = await this.client.send(
      new GenerateDataKeyCommand({ KeyId: this.keyArn, KeySpec: 'AES_256', EncryptionContext: { purpose } }),
    );
    return { keyId: out.KeyId ?? this.keyArn, keyVersion: 0, plaintext: Buffer.from(out.Plaintext!), wrapped: Buffer.from(out.CiphertextBlob!) };
  }

  async unwrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose): Promise<Buffer> {
    this.calls++;
    try {
      const out = await this.client.send(new DecryptCommand({ CiphertextBlob: wrapped, KeyId: ref.keyId, EncryptionContext: { purpose } }));
      return Buffer.from(out.Plaintext!);
    } catch (err) {
      throw new KeyUnwrapError(ref, purpose, `KMS refused: ${(err as Error).name}`);
    }
  }

  async rewrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose) {
    this.calls++;
    const out = await this.client.send(
      new ReEncryptCommand({
        CiphertextBlob: wrapped,
        SourceKeyId: ref.keyId,
        SourceEncryptionContext: { purpose },
        DestinationKeyId: this.keyArn,
        DestinationEncryptionContext: { purpose },
      }),
    );
    return { ref: this.currentKey(), wrapped: Buffer.from(out.CiphertextBlob!) };
  }
}
