import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decryptRecord, encryptRecord } from '../../src/vault/crypto/envelope';
import { CachingKeyProvider, DEFAULT_CACHE_LIMITS, type DataKeyCacheLimits } from '../../src/vault/keys/data-key-cache';
import { KeyUnwrapError, type DataKey, type KeyProvider, type KeyPurpose, type MasterKeyRef } from '../../src/vault/keys/key-provider';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';

/** A real LocalKeyProvider that counts every call that reaches it. */
class CountingProvider implements KeyProvider {
  readonly kind = 'local' as const;
  readonly calls = { generate: [] as KeyPurpose[], unwrap: [] as KeyPurpose[], rewrap: [] as KeyPurpose[] };

  constructor(readonly local: LocalKeyProvider) {}

  get total(): number {
    return this.calls.generate.length + this.calls.unwrap.length + this.calls.rewrap.length;
  }

  currentKey(): MasterKeyRef {
    return this.local.currentKey();
  }

  generateDataKey(purpose: KeyPurpose): Promise<DataKey> {
    this.calls.generate.push(purpose);
    return this.local.generateDataKey(purpose);
  }

  unwrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose): Promise<Buffer> {
    this.calls.unwrap.push(purpose);
    return this.local.unwrapDataKey(ref, wrapped, purpose);
  }

  rewrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose) {
    this.calls.rewrap.push(purpose);
    return this.local.rewrapDataKey(ref, wrapped, purpose);
  }
}

describe('CachingKeyProvider (the data key cache)', () => {
  let dir: string;
  let inner: CountingProvider;
  let clock: number;
  const now = () => clock;
  const cache = (limits: Partial<DataKeyCacheLimits> = {}) => new CachingKeyProvider(inner, { ...DEFAULT_CACHE_LIMITS, ...limits }, now);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'data-key-cache-'));
    inner = new CountingProvider(LocalKeyProvider.open(path.join(dir, 'master.json')));
    clock = 1_700_000_000_000;
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('passes kind and currentKey through', () => {
    const keys = cache();
    expect(keys.kind).toBe('local');
    expect(keys.currentKey()).toEqual({ keyId: 'local-master', keyVersion: 1 });
  });

  describe('generated keys', () => {
    it('reuses one card-pan data key until maxUses, then fetches a new one', async () => {
      const keys = cache({ maxUses: 3, maxAgeMs: 60_000 });
      const first = await keys.generateDataKey('card-pan');
      expect((await keys.generateDataKey('card-pan')).wrapped.equals(first.wrapped)).toBe(true);
      expect((await keys.generateDataKey('card-pan')).plaintext.equals(first.plaintext)).toBe(true);
      expect(inner.calls.generate).toEqual(['card-pan']);

      const fourth = await keys.generateDataKey('card-pan');
      expect(inner.calls.generate).toEqual(['card-pan', 'card-pan']);
      expect(fourth.plaintext.equals(first.plaintext)).toBe(false);
      expect(fourth.wrapped.equals(first.wrapped)).toBe(false);

      // The new key in turn serves maxUses records.
      await keys.generateDataKey('card-pan');
      await keys.generateDataKey('card-pan');
      expect(inner.calls.generate).toHaveLength(2);
      await keys.generateDataKey('card-pan');
      expect(inner.calls.generate).toHaveLength(3);
    });

    it('fetches a new card-pan key once maxAgeMs has passed, however few uses it had', async () => {
      const keys = cache({ maxUses: 1_000, maxAgeMs: 10_000 });
      const first = await keys.generateDataKey('card-pan');
      clock += 9_999;
      expect((await keys.generateDataKey('card-pan')).wrapped.equals(first.wrapped)).toBe(true);
      expect(inner.calls.generate).toHaveLength(1);

      clock += 1; // exactly maxAgeMs after the key was fetched
      const second = await keys.generateDataKey('card-pan');
      expect(second.wrapped.equals(first.wrapped)).toBe(false);
      expect(inner.calls.generate).toHaveLength(2);

      // The age counts from when the new key was fetched.
      clock += 9_999;
      expect((await keys.generateDataKey('card-pan')).wrapped.equals(second.wrapped)).toBe(true);
      expect(inner.calls.generate).toHaveLength(2);
    });

    it('keeps one key per purpose', async () => {
      const keys = cache();
      const pan = await keys.generateDataKey('card-pan');
      const intake = await keys.generateDataKey('card-intake');
      expect(intake.plaintext.equals(pan.plaintext)).toBe(false);
      expect((await keys.generateDataKey('card-pan')).wrapped.equals(pan.wrapped)).toBe(true);
      expect((await keys.generateDataKey('card-intake')).wrapped.equals(intake.wrapped)).toBe(true);
      expect(inner.calls.generate).toEqual(['card-pan', 'card-intake']);
      // Each is still bound to its own purpose.
      await expect(keys.unwrapDataKey(pan, pan.wrapped, 'card-intake')).rejects.toThrow(KeyUnwrapError);
    });

    it('never caches card-cvv keys: every generate and every unwrap reaches the inner provider', async () => {
      const keys = cache();
      const cvvKeys: DataKey[] = [];
      for (let i = 0; i < 5; i++) cvvKeys.push(await keys.generateDataKey('card-cvv'));
      expect(inner.calls.generate).toEqual(Array(5).fill('card-cvv'));
      expect(new Set(cvvKeys.map((k) => k.plaintext.toString('hex'))).size).toBe(5);

      // A generated cvv key is not remembered for unwrapping either...
      const [key] = cvvKeys;
      expect((await keys.unwrapDataKey(key!, key!.wrapped, 'card-cvv')).equals(key!.plaintext)).toBe(true);
      expect(inner.calls.unwrap).toEqual(['card-cvv']);
      // ...and an unwrapped one is not remembered: the same wrapped key goes to the provider again.
      await keys.unwrapDataKey(key!, key!.wrapped, 'card-cvv');
      await keys.unwrapDataKey(key!, key!.wrapped, 'card-cvv');
      expect(inner.calls.unwrap).toEqual(['card-cvv', 'card-cvv', 'card-cvv']);
    });

    it('encrypting CVVs through the envelope gives each its own key, and zeroing it does not break other records', async () => {
      const keys = cache();
      const a = await encryptRecord(keys, 'card-cvv', 'cvv_records|a', Buffer.from('cvv-a'));
      const b = await encryptRecord(keys, 'card-cvv', 'cvv_records|b', Buffer.from('cvv-b'));
      expect(a.wrapped_key.equals(b.wrapped_key)).toBe(false);
      expect((await decryptRecord(keys, 'card-cvv', 'cvv_records|a', a)).toString()).toBe('cvv-a');
      expect((await decryptRecord(keys, 'card-cvv', 'cvv_records|a', a)).toString()).toBe('cvv-a');
      expect((await decryptRecord(keys, 'card-cvv', 'cvv_records|b', b)).toString()).toBe('cvv-b');
      expect(inner.calls.generate).toEqual(['card-cvv', 'card-cvv']);
      expect(inner.calls.unwrap).toEqual(['card-cvv', 'card-cvv', 'card-cvv']);
    });
  });

  describe('unwrapped keys', () => {
    it('caches an unwrap until maxAgeMs', async () => {
      const keys = cache({ maxAgeMs: 10_000 });
      const key = await inner.local.generateDataKey('card-pan'); // wrapped elsewhere, e.g. by another process

      const first = await keys.unwrapDataKey(key, key.wrapped, 'card-pan');
      expect(first.equals(key.plaintext)).toBe(true);
      expect(inner.calls.unwrap).toHaveLength(1);

      clock += 9_999;
      expect((await keys.unwrapDataKey(key, key.wrapped, 'card-pan')).equals(key.plaintext)).toBe(true);
      expect(inner.calls.unwrap).toHaveLength(1);

      clock += 1;
      expect((await keys.unwrapDataKey(key, key.wrapped, 'card-pan')).equals(key.plaintext)).toBe(true);
      expect(inner.calls.unwrap).toHaveLength(2);

      // Refreshed: cached again from now.
      clock += 5_000;
      await keys.unwrapDataKey(key, key.wrapped, 'card-pan');
      expect(inner.calls.unwrap).toHaveLength(2);
    });

    it('remembers the keys it generated, so decrypting fresh records needs no unwrap', async () => {
      const keys = cache();
      const key = await keys.generateDataKey('card-pan');
      expect((await keys.unwrapDataKey(key, key.wrapped, 'card-pan')).equals(key.plaintext)).toBe(true);
      expect(inner.calls.unwrap).toHaveLength(0);
    });

    it('does not answer from the cache for another purpose or version: the binding still holds', async () => {
      const keys = cache();
      const key = await keys.generateDataKey('card-pan');
      await expect(keys.unwrapDataKey(key, key.wrapped, 'card-intake')).rejects.toThrow(KeyUnwrapError);
      inner.local.addVersion();
      await expect(keys.unwrapDataKey({ keyId: key.keyId, keyVersion: 2 }, key.wrapped, 'card-pan')).rejects.toThrow(KeyUnwrapError);
      expect(inner.calls.unwrap).toHaveLength(2);
    });

    it('does not cache a failed unwrap', async () => {
      const keys = cache();
      const key = await inner.local.generateDataKey('card-pan');
      const altered = Buffer.from(key.wrapped);
      altered[0]! ^= 0xff;
      await expect(keys.unwrapDataKey(key, altered, 'card-pan')).rejects.toThrow(KeyUnwrapError);
      await expect(keys.unwrapDataKey(key, altered, 'card-pan')).rejects.toThrow(KeyUnwrapError);
      expect(inner.calls.unwrap).toHaveLength(2);
    });

    it('holds at most maxEntries unwrapped keys, evicting the oldest', async () => {
      const keys = cache({ maxEntries: 2 });
      const [a, b, c] = [
        await inner.local.generateDataKey('card-pan'),
        await inner.local.generateDataKey('card-pan'),
        await inner.local.generateDataKey('card-pan'),
      ] as [DataKey, DataKey, DataKey];
      const unwrap = (k: DataKey) => keys.unwrapDataKey(k, k.wrapped, 'card-pan');

      await unwrap(a);
      await unwrap(b);
      expect(inner.calls.unwrap).toHaveLength(2);
      await unwrap(a);
      await unwrap(b);
      expect(inner.calls.unwrap).toHaveLength(2); // both cached

      await unwrap(c); // evicts a, the oldest
      expect(inner.calls.unwrap).toHaveLength(3);
      await unwrap(b);
      await unwrap(c);
      expect(inner.calls.unwrap).toHaveLength(3); // b and c still cached

      expect((await unwrap(a)).equals(a.plaintext)).toBe(true); // a was evicted: back to the provider
      expect(inner.calls.unwrap).toHaveLength(4);
      // ...and bringing a back evicted b, now the oldest.
      await unwrap(c);
      expect(inner.calls.unwrap).toHaveLength(4);
      await unwrap(b);
      expect(inner.calls.unwrap).toHaveLength(5);
    });

    it('counts the keys it generated against maxEntries', async () => {
      const keys = cache({ maxUses: 1, maxEntries: 2 });
      const generated = [await keys.generateDataKey('card-pan'), await keys.generateDataKey('card-pan'), await keys.generateDataKey('card-pan')];
      expect(inner.calls.generate).toHaveLength(3);
      await keys.unwrapDataKey(generated[2]!, generated[2]!.wrapped, 'card-pan');
      await keys.unwrapDataKey(generated[1]!, generated[1]!.wrapped, 'card-pan');
      expect(inner.calls.unwrap).toHaveLength(0);
      await keys.unwrapDataKey(generated[0]!, generated[0]!.wrapped, 'card-pan');
      expect(inner.calls.unwrap).toHaveLength(1);
    });

    it('clear() forgets generated and unwrapped keys', async () => {
      const keys = cache();
      const key = await keys.generateDataKey('card-pan');
      keys.clear();
      expect((await keys.generateDataKey('card-pan')).wrapped.equals(key.wrapped)).toBe(false);
      expect(inner.calls.generate).toHaveLength(2);
      await keys.unwrapDataKey(key, key.wrapped, 'card-pan');
      expect(inner.calls.unwrap).toHaveLength(1);
    });

    it('never caches rewrapDataKey', async () => {
      const keys = cache();
      const key = await keys.generateDataKey('card-pan');
      inner.local.addVersion();
      const first = await keys.rewrapDataKey(key, key.wrapped, 'card-pan');
      const second = await keys.rewrapDataKey(key, key.wrapped, 'card-pan');
      expect(inner.calls.rewrap).toHaveLength(2);
      expect(first.ref.keyVersion).toBe(2);
      expect(first.wrapped.equals(second.wrapped)).toBe(false);
    });
  });

  describe('master key rotation', () => {
    it('fetches a fresh key under the new version as soon as the current master key changes, even with uses and age left', async () => {
      const keys = cache({ maxUses: 1_000, maxAgeMs: 60 * 60_000 });
      const v1 = await keys.generateDataKey('card-pan');
      expect(v1.keyVersion).toBe(1);
      expect((await keys.generateDataKey('card-pan')).wrapped.equals(v1.wrapped)).toBe(true);
      expect(inner.calls.generate).toHaveLength(1);

      inner.local.addVersion();
      expect(keys.currentKey().keyVersion).toBe(2);

      const v2 = await keys.generateDataKey('card-pan');
      expect(inner.calls.generate).toHaveLength(2);
      expect(v2.keyVersion).toBe(2);
      expect(v2.plaintext.equals(v1.plaintext)).toBe(false);
      // The v2 key is then reused as usual.
      expect((await keys.generateDataKey('card-pan')).wrapped.equals(v2.wrapped)).toBe(true);
      expect(inner.calls.generate).toHaveLength(2);

      // Records sealed under v1 still decrypt.
      expect((await keys.unwrapDataKey(v1, v1.wrapped, 'card-pan')).equals(v1.plaintext)).toBe(true);
      expect((await inner.local.unwrapDataKey(v2, v2.wrapped, 'card-pan')).equals(v2.plaintext)).toBe(true);
    });
  });

  describe('the "small fraction of operations" claim', () => {
    it('1,000 card-pan encryptions and their decryptions reach the inner provider at most twice', async () => {
      const keys = new CachingKeyProvider(inner, DEFAULT_CACHE_LIMITS, now);
      const records = [];
      for (let i = 0; i < 1_000; i++) {
        clock += 50; // 1,000 records over 50 s, well inside maxAgeMs
        const aad = `cards|tok_${i}`;
        records.push({ aad, columns: await encryptRecord(keys, 'card-pan', aad, Buffer.from(`record ${i}`)) });
      }
      expect(inner.calls.generate.length).toBeGreaterThanOrEqual(1);
      expect(inner.calls.generate.length).toBeLessThanOrEqual(2);

      for (const [i, { aad, columns }] of records.entries()) {
        expect((await decryptRecord(keys, 'card-pan', aad, columns)).toString()).toBe(`record ${i}`);
      }
      expect(inner.total).toBeLessThanOrEqual(2);
    });

    // BUG (src/vault/keys/data-key-cache.ts): generateDataKey only stores the new key after awaiting
    // the inner provider, so callers that arrive while that call is in flight each start their own.
    // Concurrent encryptions (concurrent API requests) at start-up and at every refresh all reach
    // the provider (KMS). Marked `failing` so it documents the bug; turn into `it` once fixed.
    it('concurrent card-pan encryptions share one data key fetch', async () => {
      const keys = new CachingKeyProvider(inner, DEFAULT_CACHE_LIMITS, now);
      await Promise.all(Array.from({ length: 1_000 }, (_, i) => encryptRecord(keys, 'card-pan', `cards|tok_${i}`, Buffer.from(`record ${i}`))));
      expect(inner.calls.generate.length).toBeLessThanOrEqual(2);
    });
  });
});
