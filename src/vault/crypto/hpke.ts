import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import type { webcrypto } from 'node:crypto';
import { CiphertextTamperedError } from './aes-gcm';

type CryptoKey = webcrypto.CryptoKey;

/**
 * HPKE (RFC 9180), base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, through
 * `@hpke/core` (Node's WebCrypto X25519). Whoever holds only a public key can seal; only the
 * private key opens. The API seals card data to the vault's public keys this way, so the split
 * "the API can seal but not read" is a property of the keys it is given, not of its code
 * (DESIGN.md §3a).
 *
 * `info` names what the key is for (and, for CVV epochs, which epoch), `aad` the row the
 * ciphertext belongs to: a ciphertext moved to another row or sealed for another purpose fails.
 */
const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

export interface HpkeSealed {
  /** The encapsulated (ephemeral) public key, 32 bytes. */
  enc: Buffer;
  ciphertext: Buffer;
}

export type { CryptoKey };

export interface HpkeKeyPair {
  /** Stays inside the vault worker's process; never serialised. */
  privateKey: CryptoKey;
  /** The 32-byte X25519 public key, published for the API. */
  publicKey: Buffer;
}

const bytes = (text: string) => new TextEncoder().encode(text);

export async function hpkeSeal(recipientPublicKey: Buffer, plaintext: Buffer, info: string, aad: string): Promise<HpkeSealed> {
  const recipient = await suite.kem.deserializePublicKey(toArrayBuffer(recipientPublicKey));
  const sealed = await suite.seal({ recipientPublicKey: recipient, info: bytes(info) }, toArrayBuffer(plaintext), bytes(aad));
  return { enc: Buffer.from(sealed.enc), ciphertext: Buffer.from(sealed.ct) };
}

/** Opens what `hpkeSeal` sealed; a wrong key, info, aad or one changed byte throws `CiphertextTamperedError`. */
export async function hpkeOpen(privateKey: CryptoKey, sealed: HpkeSealed, info: string, aad: string, what: string): Promise<Buffer> {
  try {
    const plaintext = await suite.open({ recipientKey: privateKey, enc: toArrayBuffer(sealed.enc), info: bytes(info) }, toArrayBuffer(sealed.ciphertext), bytes(aad));
    return Buffer.from(plaintext);
  } catch {
    throw new CiphertextTamperedError(what);
  }
}

/** A fresh key pair (CVV epochs): its private half exists only in this process's memory. */
export async function generateHpkeKeyPair(): Promise<HpkeKeyPair> {
  return withPublicKey(await suite.kem.generateKeyPair());
}

/**
 * The key pair RFC 9180's DeriveKeyPair makes from 32 secret bytes (the vault's intake key, kept
 * as a wrapped data key so it rotates and is protected like every other vault secret).
 */
export async function deriveHpkeKeyPair(ikm: Buffer): Promise<HpkeKeyPair> {
  return withPublicKey(await suite.kem.deriveKeyPair(toArrayBuffer(ikm)));
}

async function withPublicKey(pair: webcrypto.CryptoKeyPair): Promise<HpkeKeyPair> {
  return { privateKey: pair.privateKey, publicKey: Buffer.from(await suite.kem.serializePublicKey(pair.publicKey)) };
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}
