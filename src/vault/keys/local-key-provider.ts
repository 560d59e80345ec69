import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import { CiphertextTamperedError, open, seal } from '../crypto/aes-gcm';
import { KeyUnwrapError, type DataKey, type KeyProvider, type KeyPurpose, type MasterKeyRef } from './key-provider';
import { createSecretFileOnce, looseMode } from '../../config/secret-file';

/** The key id of the vault's master key file; the Temporal payload key file has its own (./payload-keys.ts). */
export const LOCAL_MASTER_KEY_ID = 'local-master';

/** The key file: every master key version ever used, and which one wraps new data keys. */
interface KeyFile {
  current: number;
  keys: Record<string, string>; // version -> base64 AES-256 key
}

export class KeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFileError';
  }
}

/**
 * The default key provider: master keys in a local file, created on first start with 0600
 * permissions. It refuses a file that others can read, since then the keys protect nothing.
 * Old versions stay in the file so data wrapped under them keeps decrypting until re-wrapped.
 */
export class LocalKeyProvider implements KeyProvider {
  readonly kind = 'local' as const;

  private constructor(
    private readonly file: string,
    private keys: KeyFile,
    private readonly keyId: string,
  ) {}

  /** `keyId` names the file's keys in what they wrap, so a key from one file is never taken for another's. */
  static open(file: string, options: { create: boolean; keyId?: string } = { create: true }): LocalKeyProvider {
    if (!fs.existsSync(file)) {
      if (!options.create) throw new KeyFileError(`Master key file ${file} does not exist`);
      // The API and the workers start together: only one of them creates the file.
      const keys: KeyFile = { current: 1, keys: { 1: randomBytes(32).toString('base64') } };
      createSecretFileOnce(file, () => JSON.stringify(keys, null, 2));
    }
    const mode = looseMode(file);
    if (mode) {
      throw new KeyFileError(`Master key file ${file} is readable by others (mode ${mode}); run: chmod 600 ${file}`);
    }
    return new LocalKeyProvider(file, readKeyFile(file), options.keyId ?? LOCAL_MASTER_KEY_ID);
  }

  /**
   * Adds a new master key version and makes it current; older versions stay to decrypt. Reads the
   * file afresh under a lock file, so two rotations (or a stale instance) never overwrite a version.
   */
  addVersion(): MasterKeyRef {
    const lock = `${this.file}.lock`;
    let fd: number;
    try {
      fd = fs.openSync(lock, 'wx', 0o600);
    } catch {
      throw new KeyFileError(`Another key rotation holds ${lock}; wait for it, or remove the file if it is stale`);
    }
    try {
      const latest = readKeyFile(this.file);
      const next = Math.max(...Object.keys(latest.keys).map(Number)) + 1;
      const keys: KeyFile = { current: next, keys: { ...latest.keys, [next]: randomBytes(32).toString('base64') } };
      const partial = `${this.file}.${process.pid}.partial`;
      fs.writeFileSync(partial, JSON.stringify(keys, null, 2), { mode: 0o600 });
      fs.renameSync(partial, this.file);
      this.keys = keys;
      return this.currentKey();
    } finally {
      fs.closeSync(fd);
      fs.rmSync(lock, { force: true });
    }
  }

  currentKey(): MasterKeyRef {
    return { keyId: this.keyId, keyVersion: this.keys.current };
  }

  async generateDataKey(purpose: KeyPurpose): Promise<DataKey> {
    const plaintext = randomBytes(32);
    const ref = this.currentKey();
    return { ...ref, plaintext, wrapped: seal(this.masterKey(ref, purpose), plaintext, wrapContext(ref, purpose)) };
  }

  async unwrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose): Promise<Buffer> {
    if (ref.keyId !== this.keyId) throw new KeyUnwrapError(ref, purpose, `this provider only holds ${this.keyId}`);
    try {
      return open(this.masterKey(ref, purpose), wrapped, wrapContext(ref, purpose), 'data key');
    } catch (err) {
      if (err instanceof CiphertextTamperedError) throw new KeyUnwrapError(ref, purpose, 'wrong master key or altered wrapped key');
      throw err;
    }
  }

  async rewrapDataKey(ref: MasterKeyRef, wrapped: Buffer, purpose: KeyPurpose) {
    const plaintext = await this.unwrapDataKey(ref, wrapped, purpose);
    const current = this.currentKey();
    const rewrapped = seal(this.masterKey(current, purpose), plaintext, wrapContext(current, purpose));
    plaintext.fill(0);
    return { ref: current, wrapped: rewrapped };
  }

  private masterKey(ref: MasterKeyRef, purpose: KeyPurpose): Buffer {
    // A version we have not seen was added by a rotation in another process: read the file again.
    if (!this.keys.keys[String(ref.keyVersion)]) {
      try {
        this.keys = readKeyFile(this.file);
      } catch (err) {
        throw new KeyUnwrapError(ref, purpose, (err as Error).message);
      }
    }
    const key = this.keys.keys[String(ref.keyVersion)];
    if (!key) throw new KeyUnwrapError(ref, purpose, `version ${ref.keyVersion} is not in ${this.file}`);
    return Buffer.from(key, 'base64');
  }
}

const keyFileSchema = z.object({
  current: z.number().int().positive(),
  keys: z.record(
    z.string().regex(/^[1-9]\d*$/, 'versions are positive integers'),
    z.string().refine((k) => /^[A-Za-z0-9+/]{43}=$/.test(k), 'each key is 32 bytes in base64'),
  ),
});

function readKeyFile(file: string): KeyFile {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new KeyFileError(`Master key file ${file} is not valid JSON`);
  }
  const parsed = keyFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [field, version] = issue.path;
    if (field === 'keys' && version !== undefined && issue.code === 'custom') {
      throw new KeyFileError(`Master key v${String(version)} in ${file} is not 32 bytes in base64`);
    }
    const current = (raw as { current?: unknown } | null)?.current;
    if (field === 'keys' && version === undefined && Number.isInteger(current)) {
      throw new KeyFileError(`Master key file ${file} has no current key v${String(current)}`);
    }
    throw new KeyFileError(`Master key file ${file} is malformed at ${issue.path.join('.') || 'top level'}: ${issue.message}`);
  }
  if (!parsed.data.keys[parsed.data.current]) throw new KeyFileError(`Master key file ${file} has no current key v${parsed.data.current}`);
  return parsed.data;
}

function wrapContext(ref: MasterKeyRef, purpose: KeyPurpose): string {
  return `data-key|${ref.keyId}|v${ref.keyVersion}|${purpose}`;
}
