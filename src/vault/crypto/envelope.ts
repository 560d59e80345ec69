import { open, seal } from './aes-gcm';
import type { DataKeyIssuer, KeyProvider, KeyPurpose } from '../keys/key-provider';

/** How an encrypted record is stored: the ciphertext beside the wrapped key and the master key that wraps it. */
export interface EnvelopeColumns {
  key_id: string;
  key_version: number;
  wrapped_key: Buffer;
  ciphertext: Buffer;
}

/**
 * Envelope encryption of one record (DESIGN.md §3, invariant 4). The associated data names the
 * table and the record id, so a ciphertext copied onto another row fails to decrypt; it does not
 * name the master key, so re-wrapping the data key during rotation leaves the data untouched.
 */
export async function encryptRecord(issuer: DataKeyIssuer, purpose: KeyPurpose, recordAad: string, plaintext: Buffer): Promise<EnvelopeColumns> {
  const key = await issuer.generateDataKey(purpose);
  const ciphertext = seal(key.plaintext, plaintext, recordAad);
  // A CVV's key is its own and never cached: drop it from memory as soon as it has been used.
  if (purpose === 'card-cvv') key.plaintext.fill(0);
  return { key_id: key.keyId, key_version: key.keyVersion, wrapped_key: key.wrapped, ciphertext };
}

export async function decryptRecord(provider: KeyProvider, purpose: KeyPurpose, recordAad: string, columns: EnvelopeColumns): Promise<Buffer> {
  const key = await provider.unwrapDataKey({ keyId: columns.key_id, keyVersion: columns.key_version }, columns.wrapped_key, purpose);
  try {
    return open(key, columns.ciphertext, recordAad, `the ${purpose} record ${recordAad}`);
  } finally {
    if (purpose === 'card-cvv') key.fill(0);
  }
}
