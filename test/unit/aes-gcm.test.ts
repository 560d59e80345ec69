import { randomBytes } from 'node:crypto';
import { CiphertextTamperedError, open, seal } from '../../src/vault/crypto/aes-gcm';

const IV_BYTES = 12;
const TAG_BYTES = 16;

describe('AES-256-GCM seal/open', () => {
  const key = randomBytes(32);
  const aad = 'cards|tok_test_123';
  // Distinctive, so a leak into an error message would be spotted.
  const secret = 'SECRET-PLAINTEXT-do-not-leak';
  const plaintext = Buffer.from(secret, 'utf8');

  /** Runs `fn` and returns what it threw (failing the test if it did not throw). */
  function thrown(fn: () => unknown): Error {
    try {
      fn();
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a throw');
  }

  function expectTampered(sealed: Buffer, associatedData = aad, withKey = key): void {
    const error = thrown(() => open(withKey, sealed, associatedData, 'the test record'));
    expect(error).toBeInstanceOf(CiphertextTamperedError);
    expect(error.name).toBe('CiphertextTamperedError');
    expect(error.message).toContain('the test record');
    expect(error.message).not.toContain(secret);
    expect(error.message).not.toContain(plaintext.toString('hex'));
    expect(error.message).not.toContain(plaintext.toString('base64'));
    expect(error.message).not.toContain(key.toString('hex'));
    expect(error.message).not.toContain(key.toString('base64'));
  }

  it('round-trips', () => {
    const sealed = seal(key, plaintext, aad);
    expect(sealed).toHaveLength(IV_BYTES + plaintext.length + TAG_BYTES);
    expect(sealed.includes(plaintext)).toBe(false);
    expect(open(key, sealed, aad, 'the test record').equals(plaintext)).toBe(true);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([0x42])],
    ['binary', randomBytes(1_000)],
    ['64 KiB', randomBytes(64 * 1024)],
  ])('round-trips a message: %s', (_what, message) => {
    const sealed = seal(key, message, aad);
    expect(open(key, sealed, aad, 'the test record').equals(message)).toBe(true);
  });

  it('round-trips with non-ASCII associated data, and an empty one', () => {
    expect(open(key, seal(key, plaintext, 'café|☕'), 'café|☕', 'x').equals(plaintext)).toBe(true);
    expect(open(key, seal(key, plaintext, ''), '', 'x').equals(plaintext)).toBe(true);
  });

  it('uses a fresh IV: sealing the same message twice gives different bytes', () => {
    const a = seal(key, plaintext, aad);
    const b = seal(key, plaintext, aad);
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(0, IV_BYTES).equals(b.subarray(0, IV_BYTES))).toBe(false);
    expect(open(key, a, aad, 'x').equals(open(key, b, aad, 'x'))).toBe(true);
  });

  it('rejects every single flipped byte: IV, body and tag', () => {
    const message = Buffer.from('small message', 'utf8');
    const sealed = seal(key, message, aad);
    expect(sealed).toHaveLength(IV_BYTES + message.length + TAG_BYTES);
    for (let i = 0; i < sealed.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const altered = Buffer.from(sealed);
        altered[i]! ^= mask;
        const error = thrown(() => open(key, altered, aad, 'the test record'));
        expect(error).toBeInstanceOf(CiphertextTamperedError);
        expect(error.message).not.toContain('small message');
      }
    }
    // The original is untouched and still opens.
    expect(open(key, sealed, aad, 'x').equals(message)).toBe(true);
  });

  it('rejects the wrong associated data', () => {
    const sealed = seal(key, plaintext, aad);
    expectTampered(sealed, 'cards|tok_test_124');
    expectTampered(sealed, '');
    expectTampered(sealed, `${aad} `);
    expectTampered(sealed, aad.toUpperCase());
  });

  it('rejects the wrong key', () => {
    expectTampered(seal(key, plaintext, aad), aad, randomBytes(32));
  });

  it('rejects truncated and extended input', () => {
    const sealed = seal(key, plaintext, aad);
    for (let length = 0; length < sealed.length; length++) {
      expectTampered(sealed.subarray(0, length));
    }
    expectTampered(sealed.subarray(1)); // a byte dropped from the front
    expectTampered(Buffer.concat([sealed, Buffer.from([0])]));
    expectTampered(Buffer.concat([Buffer.from([0]), sealed]));
    expectTampered(Buffer.alloc(0));
  });

  it('rejects a tag-only or IV-plus-tag input that was never sealed', () => {
    expectTampered(Buffer.alloc(IV_BYTES + TAG_BYTES));
    expectTampered(randomBytes(IV_BYTES + TAG_BYTES + plaintext.length));
  });

  it('rejects ciphertext spliced from two messages under the same key', () => {
    const a = seal(key, Buffer.from('first message!!'), aad);
    const b = seal(key, Buffer.from('other message!!'), aad);
    // a's IV and body with b's tag, and b's IV with a's body and tag.
    expectTampered(Buffer.concat([a.subarray(0, a.length - TAG_BYTES), b.subarray(b.length - TAG_BYTES)]));
    expectTampered(Buffer.concat([b.subarray(0, IV_BYTES), a.subarray(IV_BYTES)]));
  });
});
