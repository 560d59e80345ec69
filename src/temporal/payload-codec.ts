import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { open, seal } from '../vault/crypto/aes-gcm';
import type { KeyProvider } from '../vault/keys/key-provider';
import { UNENCRYPTED_PAYLOAD_MARKER } from '../workflows/unencrypted-payload';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const AAD = 'temporal-payload';

const utf8 = (value: string) => new TextEncoder().encode(value);
const text = (bytes: Uint8Array | null | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);

/**
 * Payloads a worker takes as they are: `binary/null` is how the SDK writes "no value" (a void
 * result, an absent argument) and carries nothing to act on. Everything else unencrypted is
 * replaced by the refusal marker (src/workflows/unencrypted-payload.ts).
 */
const NO_VALUE_ENCODING = 'binary/null';
const MARKER_PAYLOAD: Payload = {
  metadata: { encoding: utf8('json/plain') },
  data: utf8(JSON.stringify(UNENCRYPTED_PAYLOAD_MARKER)),
};

export interface EncryptionCodecOptions {
  /**
   * Workers: an unencrypted payload is decoded to the refusal marker, never passed through, so a
   * request crafted without the payload key (straight to Temporal's frontend) is refused by the
   * workflow instead of acted on. Clients (the API, the Web UI's codec endpoint) keep decoding
   * whatever Temporal holds, so they can still show what the server itself wrote.
   */
  refuseUnencrypted?: boolean;
}

/**
 * Encrypts every Temporal payload of the project (workflow inputs and results, activity inputs
 * and results, signals, updates, queries, memos, failure details), so Temporal's database and
 * its Web UI see only ciphertext. AES-256-GCM with data keys from the vault's key provider
 * (purpose `temporal-payload`); the key id, version and wrapped data key travel in the payload's
 * metadata, so payloads written before a rotation still decode.
 *
 * This protects payment state in Temporal; card data never gets that far (DESIGN.md §3,
 * invariant 1): payloads carry only opaque references.
 */
export class EncryptionCodec implements PayloadCodec {
  constructor(
    private readonly keys: KeyProvider,
    private readonly options: EncryptionCodecOptions = {},
  ) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        const key = await this.keys.generateDataKey('temporal-payload');
        const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
        return {
          metadata: {
            encoding: utf8(ENCRYPTED_ENCODING),
            'encryption-key-id': utf8(key.keyId),
            'encryption-key-version': utf8(String(key.keyVersion)),
            'encryption-wrapped-key': key.wrapped,
          },
          data: seal(key.plaintext, Buffer.from(plaintext), AAD),
        };
      }),
    );
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        const encoding = text(payload.metadata?.encoding);
        if (encoding !== ENCRYPTED_ENCODING) {
          return this.options.refuseUnencrypted && encoding !== NO_VALUE_ENCODING ? MARKER_PAYLOAD : payload;
        }
        const metadata = payload.metadata!;
        const keyId = text(metadata['encryption-key-id']);
        const keyVersion = Number(text(metadata['encryption-key-version']));
        const wrapped = metadata['encryption-wrapped-key'];
        if (!keyId || !Number.isInteger(keyVersion) || !wrapped || !payload.data) {
          throw new Error('Encrypted payload is missing its key metadata');
        }
        const key = await this.keys.unwrapDataKey({ keyId, keyVersion }, Buffer.from(wrapped), 'temporal-payload');
        const plaintext = open(key, Buffer.from(payload.data), AAD, 'Temporal payload');
        return temporal.api.common.v1.Payload.decode(plaintext) as Payload;
      }),
    );
  }
}
