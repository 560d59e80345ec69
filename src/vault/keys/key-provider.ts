/**
 * Where data keys come from (DESIGN.md §3, invariant 4): envelope encryption, with the master key
 * kept by a key provider — a local key file by default, AWS KMS in production. Callers never see
 * a master key; they get fresh data keys and hand wrapped ones back for unwrapping.
 */

/** What a data key protects. It is bound into the wrapping, so a key wrapped for one purpose cannot be unwrapped as another. */
export type KeyPurpose = 'card-intake' | 'card-pan' | 'card-cvv' | 'fingerprint-secret' | 'temporal-payload';

/** Which master key wrapped a data key: stored beside every ciphertext so keys can rotate. */
export interface MasterKeyRef {
  /** 'local-master' for the local provider, the key ARN for AWS KMS. */
  keyId: string;
  /** The local provider's key version; 0 for KMS, which versions its key material internally. */
  keyVersion: number;
}

export interface DataKey extends MasterKeyRef {
  plaintext: Buffer;
  wrapped: Buffer;
}

export class KeyUnwrapError extends Error {
  constructor(ref: MasterKeyRef, purpose: KeyPurpose, cause: string) {
    super(`Cannot unwrap a ${purpose} data key with master key ${ref.keyId} v${ref.keyVersion}: ${cause}`);
    this.name = 'KeyUnwrapError';
  }
}

/** The half of a provider that can only create keys: all the API's role needs to seal. */
export interface DataKeyIssuer {
  readonly kind: 'local' | 'aws-kms';
  generateDataKey(purpose: KeyPurpose): Promise<DataKey>;
}

export interface KeyProvider extends DataKeyIssuer {
  unwrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose): Promise<Buffer>;
  /** Wraps an existing data key under the current master key (key rotation). */
  rewrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose): Promise<{ ref: MasterKeyRef; wrapped: Buffer }>;
  currentKey(): MasterKeyRef;
}
