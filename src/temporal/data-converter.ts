import type { DataConverter } from '@temporalio/common';
import type { KeyProvider } from '../vault/keys/key-provider';
import { EncryptionCodec } from './payload-codec';

/**
 * The data converter of every client and worker of the gateway: payloads encrypted by the codec,
 * and failure messages and stack traces moved into an encoded attribute so they are encrypted
 * too (by default Temporal stores them in plain text).
 */
export function gatewayDataConverter(keys: KeyProvider): DataConverter {
  return {
    payloadCodecs: [new EncryptionCodec(keys)],
    failureConverterPath: require.resolve('./failure-converter'),
  };
}
