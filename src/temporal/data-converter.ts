import type { DataConverter } from '@temporalio/common';
import type { KeyProvider } from '../vault/keys/key-provider';
import { EncryptionCodec, type EncryptionCodecOptions } from './payload-codec';

/**
 * The data converter of every client and worker of the gateway: payloads encrypted by the codec,
 * and failure messages and stack traces moved into an encoded attribute so they are encrypted
 * too (by default Temporal stores them in plain text). Workers pass `{ refuseUnencrypted: true }`
 * (see EncryptionCodecOptions): they never act on a payload written without the key.
 */
export function gatewayDataConverter(keys: KeyProvider, options: EncryptionCodecOptions = {}): DataConverter {
  return {
    payloadCodecs: [new EncryptionCodec(keys, options)],
    failureConverterPath: require.resolve('./failure-converter'),
  };
}
