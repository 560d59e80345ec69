import { KeyUnwrapError, type DataKey, type KeyProvider, type KeyPurpose, type MasterKeyRef } from './key-provider';

/**
 * A key provider that serves only some purposes. The vault's card key provider refuses
 * `temporal-payload` (payload keys live in their own file, given to every process), and the
 * payload key provider refuses every card purpose: whatever a process is given, a purpose outside
 * its role fails here, before any key material is touched.
 */
export class PurposeRestrictedKeyProvider implements KeyProvider {
  readonly kind: KeyProvider['kind'];

  constructor(
    private readonly inner: KeyProvider,
    private readonly allowed: readonly KeyPurpose[],
    private readonly role: string,
  ) {
    this.kind = inner.kind;
  }

  currentKey(): MasterKeyRef {
    return this.inner.currentKey();
  }

  async generateDataKey(purpose: KeyPurpose): Promise<DataKey> {
    this.check(this.currentKey(), purpose);
    return this.inner.generateDataKey(purpose);
  }

  async unwrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose): Promise<Buffer> {
    this.check(ref, purpose);
    return this.inner.unwrapDataKey(ref, wrapped, purpose);
  }

  async rewrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose) {
    this.check(ref, purpose);
    return this.inner.rewrapDataKey(ref, wrapped, purpose);
  }

  private check(ref: MasterKeyRef, purpose: KeyPurpose): void {
    if (!this.allowed.includes(purpose)) throw new KeyUnwrapError(ref, purpose, `the ${this.role} serves only ${this.allowed.join(', ')}`);
  }
}
