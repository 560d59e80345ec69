import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with a fresh 96-bit IV per message and associated data that binds the ciphertext to
 * where it belongs. Output: iv (12) || ciphertext || tag (16). Any change to a byte, or a different
 * associated data, makes `open` throw.
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class CiphertextTamperedError extends Error {
  constructor(what: string) {
    super(`${what} failed authentication: the ciphertext was altered, moved to another record, or the key is wrong`);
    this.name = 'CiphertextTamperedError';
  }
}

export function seal(key: Buffer, plaintext: Buffer, associatedData: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

export function open(key: Buffer, sealed: Buffer, associatedData: string, what: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new CiphertextTamperedError(what);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new CiphertextTamperedError(what);
  }
}
