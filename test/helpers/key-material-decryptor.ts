import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import type { Db } from '../../src/storage/db';
import { open as aesOpen } from '../../src/vault/crypto/aes-gcm';
import { deriveHpkeKeyPair, hpkeOpen, type CryptoKey } from '../../src/vault/crypto/hpke';
import type { KeyProvider, KeyPurpose } from '../../src/vault/keys/key-provider';
import { LOCAL_MASTER_KEY_ID, LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import { LOCAL_PAYLOAD_KEY_ID } from '../../src/vault/keys/open-key-provider';

/**
 * An attacker who has everything one process has — its environment, the files it was given, the
 * key providers it opened, the database it reads — and tries every key and purpose it can build
 * from them on a sealed ciphertext (issue 10, acceptance). Used to show that the API cannot open
 * an intake and that a purged CVV's copy opens with no key that remains; and, as a control that
 * the decryptor itself works, that the vault worker's material does open an intake.
 */

export interface ProcessMaterial {
  env: NodeJS.ProcessEnv;
  /** Key files and any other files the process was given (paths in its environment are added). */
  files: string[];
  /** Key providers the process holds in memory. */
  providers: KeyProvider[];
  /** The database it reads (wrapped data keys, published public keys). */
  db?: Db;
}

export interface SealedTarget {
  name: string;
  enc: Buffer;
  ciphertext: Buffer;
  /** The HPKE info and associated data it was sealed with (the attacker knows the format). */
  info: string;
  aad: string;
}

export interface DecryptionReport {
  /** Distinct secrets (32-byte strings) the material yielded. */
  secrets: number;
  attempts: number;
  opened: { target: string; how: string }[];
}

const PURPOSES: KeyPurpose[] = ['card-intake', 'card-pan', 'card-cvv', 'fingerprint-secret', 'temporal-payload'];
const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

export async function tryToOpen(material: ProcessMaterial, targets: SealedTarget[]): Promise<DecryptionReport> {
  const secrets = new Map<string, { key: Buffer; from: string }>();
  const addSecret = (key: Buffer, from: string) => {
    if (key.length === 32 && !secrets.has(key.toString('hex'))) secrets.set(key.toString('hex'), { key: Buffer.from(key), from });
  };
  const addText = (text: string, from: string) => {
    for (const decoded of [Buffer.from(text, 'base64'), Buffer.from(text, 'base64url'), /^[0-9a-f]+$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.alloc(0), Buffer.from(text, 'utf8')]) {
      addSecret(decoded, from);
    }
    addSecret(createHash('sha256').update(text).digest(), `sha256 of ${from}`);
  };

  // The environment: every value as a secret, and every path it names as a file.
  const files = new Set(material.files);
  for (const [name, value] of Object.entries(material.env)) {
    if (!value) continue;
    addText(value, `env ${name}`);
    if (path.isAbsolute(value) && fs.existsSync(value) && fs.statSync(value).isFile()) files.add(value);
  }

  // The files: every string in them, and a key provider from each that is a key file (under either key id).
  const providers = [...material.providers];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    addText(text.trim(), `file ${path.basename(file)}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      continue;
    }
    for (const leaf of stringLeaves(parsed)) addText(leaf, `file ${path.basename(file)}`);
    for (const keyId of [LOCAL_MASTER_KEY_ID, LOCAL_PAYLOAD_KEY_ID]) {
      try {
        providers.push(LocalKeyProvider.open(file, { create: false, keyId }));
      } catch {
        // not a key file
      }
    }
  }

  // The database: every wrapped data key, unwrapped by every provider for every purpose.
  let attempts = 0;
  if (material.db) {
    const wrapped: { key_id: string; key_version: number; wrapped_key: Buffer }[] = [];
    for (const table of ['vault_secrets', 'cards', 'card_intakes', 'cvv_records']) {
      wrapped.push(...(await material.db.query<{ key_id: string; key_version: number; wrapped_key: Buffer }>(`SELECT key_id, key_version, wrapped_key FROM ${table} WHERE wrapped_key IS NOT NULL`)));
    }
    for (const provider of providers) {
      for (const row of wrapped) {
        for (const ref of [{ keyId: row.key_id, keyVersion: row.key_version }, provider.currentKey()]) {
          for (const purpose of PURPOSES) {
            attempts++;
            const key = await provider.unwrapDataKey(ref, Buffer.from(row.wrapped_key), purpose).catch(() => undefined);
            if (key) addSecret(key, `a ${purpose} data key unwrapped by a ${provider.kind} provider`);
          }
        }
      }
    }
  }

  // Every secret, as everything it could be: an AES-256-GCM key, an HPKE seed, a raw X25519 private key.
  const opened: DecryptionReport['opened'] = [];
  for (const { key, from } of secrets.values()) {
    const privateKeys: { key: CryptoKey; as: string }[] = [{ key: (await deriveHpkeKeyPair(key)).privateKey, as: 'HPKE seed' }];
    const raw = await suite.kem.importKey('raw', toArrayBuffer(key), false).catch(() => undefined);
    if (raw) privateKeys.push({ key: raw as CryptoKey, as: 'X25519 private key' });
    for (const target of targets) {
      for (const body of [target.ciphertext, Buffer.concat([target.enc, target.ciphertext])]) {
        for (const aad of [target.aad, '', target.info]) {
          attempts++;
          try {
            aesOpen(key, body, aad, target.name);
            opened.push({ target: target.name, how: `AES-GCM with ${from}` });
          } catch {
            // expected
          }
        }
      }
      for (const candidate of privateKeys) {
        attempts++;
        const plaintext = await hpkeOpen(candidate.key, { enc: target.enc, ciphertext: target.ciphertext }, target.info, target.aad, target.name).catch(() => undefined);
        if (plaintext) opened.push({ target: target.name, how: `HPKE with ${from} as ${candidate.as}` });
      }
    }
  }
  return { secrets: secrets.size, attempts, opened };
}

function stringLeaves(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) stringLeaves(v, out);
  return out;
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}
