import type { DataKey, KeyProvider, KeyPurpose, MasterKeyRef } from './key-provider';

export interface DataKeyCacheLimits {
  /** A generated data key encrypts at most this many records... */
  maxUses: number;
  /** ...and for at most this long. */
  maxAgeMs: number;
  /** Unwrapped keys kept for decryption. */
  maxEntries: number;
}

export const DEFAULT_CACHE_LIMITS: DataKeyCacheLimits = { maxUses: 1_000, maxAgeMs: 5 * 60_000, maxEntries: 1_000 };

/**
 * Keeps KMS calls to a small fraction of operations (the AWS Encryption SDK's caching idea):
 * one generated data key serves several records, bounded in uses and age, and unwrapped keys are
 * remembered for a while. With random 96-bit IVs a key is safe for far more than `maxUses` messages.
 *
 * CVV keys never enter the cache: each CVV has its own data key, so deleting its row destroys
 * the only wrapped copy and nothing in memory outlives the purge.
 */
export class CachingKeyProvider implements KeyProvider {
  readonly kind: KeyProvider['kind'];
  private readonly issued = new Map<KeyPurpose, { key: DataKey; uses: number; createdAt: number }>();
  /** A fetch in flight per purpose: concurrent callers wait for it instead of each calling KMS. */
  private readonly fetching = new Map<KeyPurpose, Promise<DataKey>>();
  private readonly unwrapped = new Map<string, { plaintext: Buffer; createdAt: number }>();

  constructor(
    private readonly inner: KeyProvider,
    private readonly limits: DataKeyCacheLimits = DEFAULT_CACHE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.kind = inner.kind;
  }

  currentKey(): MasterKeyRef {
    return this.inner.currentKey();
  }

  async generateDataKey(purpose: KeyPurpose): Promise<DataKey> {
    if (purpose === 'card-cvv') return this.inner.generateDataKey(purpose);
    const entry = this.issued.get(purpose);
    const current = this.inner.currentKey();
    if (
      entry &&
      entry.uses < this.limits.maxUses &&
      this.now() - entry.createdAt < this.limits.maxAgeMs &&
      entry.key.keyId === current.keyId &&
      entry.key.keyVersion === current.keyVersion
    ) {
      entry.uses++;
      return entry.key;
    }
    const pending = this.fetching.get(purpose);
    if (pending) {
      const key = await pending;
      const fresh = this.issued.get(purpose);
      if (fresh?.key === key) fresh.uses++;
      return key;
    }
    const fetch = this.inner.generateDataKey(purpose).then((key) => {
      this.issued.set(purpose, { key, uses: 1, createdAt: this.now() });
      this.remember(cacheKey(key, key.wrapped, purpose), key.plaintext);
      return key;
    });
    this.fetching.set(purpose, fetch);
    try {
      return await fetch;
    } finally {
      this.fetching.delete(purpose);
    }
  }

  async unwrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose): Promise<Buffer> {
    if (purpose === 'card-cvv') return this.inner.unwrapDataKey(ref, wrapped, purpose);
    const id = cacheKey(ref, wrapped, purpose);
    const hit = this.unwrapped.get(id);
    if (hit && this.now() - hit.createdAt < this.limits.maxAgeMs) return hit.plaintext;
    const plaintext = await this.inner.unwrapDataKey(ref, wrapped, purpose);
    this.remember(id, plaintext);
    return plaintext;
  }

  rewrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose) {
    return this.inner.rewrapDataKey(ref, wrapped, purpose);
  }

  /** Forgets every key, e.g. after rotation, so the next records use the new master key at once. */
  clear(): void {
    this.issued.clear();
    this.unwrapped.clear();
  }

  private remember(id: string, plaintext: Buffer): void {
    if (this.unwrapped.size >= this.limits.maxEntries) {
      // Maps iterate in insertion order: the first entry is the oldest.
      this.unwrapped.delete(this.unwrapped.keys().next().value!);
    }
    this.unwrapped.set(id, { plaintext, createdAt: this.now() });
  }
}

function cacheKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose): string {
  return `${ref.keyId}|${ref.keyVersion}|${purpose}|${wrapped.toString('base64')}`;
}
