import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KeyUnwrapError } from '../../src/vault/keys/key-provider';
import { KeyFileError, LocalKeyProvider } from '../../src/vault/keys/local-key-provider';

describe('LocalKeyProvider (the master key file)', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-key-provider-'));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const modeOf = (p: string) => fs.statSync(p).mode & 0o777;
  const readKeyFile = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8')) as { current: number; keys: Record<string, string> };
  /** Writes a key file with the given content, owner-only, as a hand-edited or corrupted file would be. */
  const writeKeyFile = (p: string, content: string) => fs.writeFileSync(p, content, { mode: 0o600 });

  describe('creating and reopening the file', () => {
    it('creates the key file 0600 in a 0700 directory, holding one 32-byte key v1', () => {
      const file = path.join(dir, 'keys', 'master.json');
      const provider = LocalKeyProvider.open(file);

      expect(modeOf(path.dirname(file))).toBe(0o700);
      expect(modeOf(file)).toBe(0o600);
      const content = readKeyFile(file);
      expect(content.current).toBe(1);
      expect(Object.keys(content.keys)).toEqual(['1']);
      expect(Buffer.from(content.keys['1']!, 'base64')).toHaveLength(32);
      expect(provider.kind).toBe('local');
      expect(provider.currentKey()).toEqual({ keyId: 'local-master', keyVersion: 1 });
    });

    it('reopens the same key: a data key wrapped by the first instance unwraps with the second', async () => {
      const file = path.join(dir, 'master.json');
      const first = LocalKeyProvider.open(file);
      const before = fs.readFileSync(file, 'utf8');
      const dataKey = await first.generateDataKey('card-pan');
      expect(dataKey.plaintext).toHaveLength(32);

      const second = LocalKeyProvider.open(file);
      expect(fs.readFileSync(file, 'utf8')).toBe(before); // not regenerated
      expect(second.currentKey()).toEqual(first.currentKey());
      const unwrapped = await second.unwrapDataKey(dataKey, dataKey.wrapped, 'card-pan');
      expect(unwrapped.equals(dataKey.plaintext)).toBe(true);
    });

    it('open(file, {create:false}) on a missing file throws and creates nothing', () => {
      const file = path.join(dir, 'missing', 'master.json');
      expect(() => LocalKeyProvider.open(file, { create: false })).toThrow(KeyFileError);
      expect(() => LocalKeyProvider.open(file, { create: false })).toThrow(file);
      expect(fs.existsSync(file)).toBe(false);
      expect(fs.existsSync(path.dirname(file))).toBe(false);
    });

    it('open(file, {create:false}) reads an existing file', async () => {
      const file = path.join(dir, 'master.json');
      const dataKey = await LocalKeyProvider.open(file).generateDataKey('card-pan');
      const reopened = LocalKeyProvider.open(file, { create: false });
      expect((await reopened.unwrapDataKey(dataKey, dataKey.wrapped, 'card-pan')).equals(dataKey.plaintext)).toBe(true);
    });
  });

  describe('refusing a key file others can read', () => {
    it.each(['640', '644', '604', '660', '620'])('refuses mode %s, naming the file and the chmod 600 fix', (mode) => {
      const file = path.join(dir, 'master.json');
      LocalKeyProvider.open(file);
      fs.chmodSync(file, parseInt(mode, 8));

      let error: unknown;
      try {
        LocalKeyProvider.open(file);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(KeyFileError);
      expect((error as Error).name).toBe('KeyFileError');
      expect((error as Error).message).toContain(file);
      expect((error as Error).message).toContain('chmod 600');
      // The refusal must not print the key material.
      expect((error as Error).message).not.toContain(readKeyFile(file).keys['1']!);
    });

    it('accepts an owner-only read-only file (0400)', () => {
      const file = path.join(dir, 'master.json');
      LocalKeyProvider.open(file);
      fs.chmodSync(file, 0o400);
      expect(LocalKeyProvider.open(file).currentKey().keyVersion).toBe(1);
    });

    it('accepts the file again once it is chmod 600', () => {
      const file = path.join(dir, 'master.json');
      LocalKeyProvider.open(file);
      fs.chmodSync(file, 0o644);
      expect(() => LocalKeyProvider.open(file)).toThrow(KeyFileError);
      fs.chmodSync(file, 0o600);
      expect(() => LocalKeyProvider.open(file)).not.toThrow();
    });
  });

  describe('refusing a corrupt key file', () => {
    const key32 = () => Buffer.alloc(32, 7).toString('base64');

    it.each([
      ['not JSON', () => 'this is not json {', /not valid JSON/],
      ['truncated JSON', () => '{"current": 1, "keys": {"1": "', /not valid JSON/],
      ['a key of 16 bytes', () => JSON.stringify({ current: 1, keys: { 1: Buffer.alloc(16, 1).toString('base64') } }), /v1 .* not 32 bytes/],
      ['a key of 33 bytes', () => JSON.stringify({ current: 1, keys: { 1: Buffer.alloc(33, 1).toString('base64') } }), /v1 .* not 32 bytes/],
      ['an empty key', () => JSON.stringify({ current: 1, keys: { 1: '' } }), /v1 .* not 32 bytes/],
      ['a bad old version beside a good current one', () => JSON.stringify({ current: 2, keys: { 1: 'c2hvcnQ=', 2: key32() } }), /v1 .* not 32 bytes/],
      ['the current version missing', () => JSON.stringify({ current: 2, keys: { 1: key32() } }), /no current key v2/],
      ['no keys at all', () => JSON.stringify({ current: 1, keys: {} }), /no current key v1/],
      ['no keys object', () => JSON.stringify({ current: 1 }), /no current key v1/],
    ])('refuses %s with a KeyFileError naming the file', (_what, content, message) => {
      const file = path.join(dir, 'master.json');
      writeKeyFile(file, content());
      let error: unknown;
      try {
        LocalKeyProvider.open(file);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(KeyFileError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain(file);
    });

    it('accepts a hand-written file with a valid current key', async () => {
      const file = path.join(dir, 'master.json');
      writeKeyFile(file, JSON.stringify({ current: 3, keys: { 3: key32() } }));
      const provider = LocalKeyProvider.open(file);
      expect(provider.currentKey()).toEqual({ keyId: 'local-master', keyVersion: 3 });
      const dataKey = await provider.generateDataKey('card-pan');
      expect(dataKey.keyVersion).toBe(3);
    });
  });

  describe('wrapping data keys', () => {
    let provider: LocalKeyProvider;
    beforeEach(() => {
      provider = LocalKeyProvider.open(path.join(dir, 'master.json'));
    });

    it('gives fresh 32-byte data keys, wrapped under the current master key', async () => {
      const a = await provider.generateDataKey('card-pan');
      const b = await provider.generateDataKey('card-pan');
      expect(a).toMatchObject({ keyId: 'local-master', keyVersion: 1 });
      expect(a.plaintext).toHaveLength(32);
      expect(a.plaintext.equals(b.plaintext)).toBe(false);
      // The wrapped form never contains the plaintext key.
      expect(a.wrapped.includes(a.plaintext)).toBe(false);
      expect((await provider.unwrapDataKey(a, a.wrapped, 'card-pan')).equals(a.plaintext)).toBe(true);
    });

    it('binds a wrapped key to its purpose: a card-pan key does not unwrap as card-cvv', async () => {
      const key = await provider.generateDataKey('card-pan');
      await expect(provider.unwrapDataKey(key, key.wrapped, 'card-cvv')).rejects.toThrow(KeyUnwrapError);
      await expect(provider.unwrapDataKey(key, key.wrapped, 'card-cvv')).rejects.toThrow(/card-cvv/);
      // ...and the other way round.
      const cvvKey = await provider.generateDataKey('card-cvv');
      await expect(provider.unwrapDataKey(cvvKey, cvvKey.wrapped, 'card-pan')).rejects.toThrow(KeyUnwrapError);
      expect((await provider.unwrapDataKey(cvvKey, cvvKey.wrapped, 'card-cvv')).equals(cvvKey.plaintext)).toBe(true);
    });

    it('binds a wrapped key to its master key version', async () => {
      const key = await provider.generateDataKey('card-pan');
      provider.addVersion();
      // Claiming the v1-wrapped key was wrapped under v2 fails, even though v2 exists.
      await expect(provider.unwrapDataKey({ keyId: 'local-master', keyVersion: 2 }, key.wrapped, 'card-pan')).rejects.toThrow(KeyUnwrapError);
    });

    it('refuses a version it does not hold and a foreign key id', async () => {
      const key = await provider.generateDataKey('card-pan');
      await expect(provider.unwrapDataKey({ keyId: 'local-master', keyVersion: 9 }, key.wrapped, 'card-pan')).rejects.toThrow(KeyUnwrapError);
      await expect(
        provider.unwrapDataKey({ keyId: 'arn:aws:kms:eu-west-1:000000000000:key/test', keyVersion: 1 }, key.wrapped, 'card-pan'),
      ).rejects.toThrow(KeyUnwrapError);
    });

    it('a different key file cannot unwrap', async () => {
      const other = LocalKeyProvider.open(path.join(dir, 'other', 'master.json'));
      expect(other.currentKey()).toEqual(provider.currentKey()); // same id and version, different key
      const key = await provider.generateDataKey('card-pan');
      await expect(other.unwrapDataKey(key, key.wrapped, 'card-pan')).rejects.toThrow(KeyUnwrapError);
      await expect(other.rewrapDataKey(key, key.wrapped, 'card-pan')).rejects.toThrow(KeyUnwrapError);
    });

    it('detects an altered wrapped key', async () => {
      const key = await provider.generateDataKey('card-pan');
      const altered = Buffer.from(key.wrapped);
      altered[altered.length - 1]! ^= 0x01;
      await expect(provider.unwrapDataKey(key, altered, 'card-pan')).rejects.toThrow(KeyUnwrapError);
      await expect(provider.unwrapDataKey(key, key.wrapped.subarray(0, 10), 'card-pan')).rejects.toThrow(KeyUnwrapError);
    });

    it('uses a fresh IV every time: rewrapping the same data key twice gives different bytes', async () => {
      const key = await provider.generateDataKey('card-pan');
      const once = await provider.rewrapDataKey(key, key.wrapped, 'card-pan');
      const twice = await provider.rewrapDataKey(key, key.wrapped, 'card-pan');
      expect(once.wrapped.equals(twice.wrapped)).toBe(false);
      expect(once.wrapped.equals(key.wrapped)).toBe(false);
      expect(once.wrapped.subarray(0, 12).equals(twice.wrapped.subarray(0, 12))).toBe(false); // the IVs themselves
      // All three are wrappings of the same data key.
      for (const wrapped of [key.wrapped, once.wrapped, twice.wrapped]) {
        expect((await provider.unwrapDataKey(key, wrapped, 'card-pan')).equals(key.plaintext)).toBe(true);
      }
    });

    it('no two generated keys share an IV', async () => {
      const ivs = new Set<string>();
      for (let i = 0; i < 200; i++) ivs.add((await provider.generateDataKey('card-pan')).wrapped.subarray(0, 12).toString('hex'));
      expect(ivs.size).toBe(200);
    });
  });

  describe('rotation: addVersion() and rewrapDataKey()', () => {
    it('makes v2 current, keeps the file 0600, and v1-wrapped keys still unwrap', async () => {
      const file = path.join(dir, 'master.json');
      const provider = LocalKeyProvider.open(file);
      const v1Key = await provider.generateDataKey('card-pan');
      const v1Material = readKeyFile(file).keys['1'];

      expect(provider.addVersion()).toEqual({ keyId: 'local-master', keyVersion: 2 });
      expect(provider.currentKey()).toEqual({ keyId: 'local-master', keyVersion: 2 });
      expect(modeOf(file)).toBe(0o600);
      const content = readKeyFile(file);
      expect(content.current).toBe(2);
      expect(content.keys['1']).toBe(v1Material);
      expect(Buffer.from(content.keys['2']!, 'base64')).toHaveLength(32);
      expect(content.keys['2']).not.toBe(v1Material);
      expect(fs.readdirSync(dir)).toEqual(['master.json']); // no partial file left behind

      expect((await provider.unwrapDataKey(v1Key, v1Key.wrapped, 'card-pan')).equals(v1Key.plaintext)).toBe(true);
      const v2Key = await provider.generateDataKey('card-pan');
      expect(v2Key).toMatchObject({ keyId: 'local-master', keyVersion: 2 });
      expect((await provider.unwrapDataKey(v2Key, v2Key.wrapped, 'card-pan')).equals(v2Key.plaintext)).toBe(true);

      // A new instance sees the rotation.
      const reopened = LocalKeyProvider.open(file);
      expect(reopened.currentKey().keyVersion).toBe(2);
      expect((await reopened.unwrapDataKey(v1Key, v1Key.wrapped, 'card-pan')).equals(v1Key.plaintext)).toBe(true);
      expect((await reopened.unwrapDataKey(v2Key, v2Key.wrapped, 'card-pan')).equals(v2Key.plaintext)).toBe(true);

      expect(provider.addVersion().keyVersion).toBe(3);
      expect(modeOf(file)).toBe(0o600);
    });

    it('an instance opened before another one rotated can still unwrap keys wrapped under the new version', async () => {
      const file = path.join(dir, 'master.json');
      const rotator = LocalKeyProvider.open(file);
      const stale = LocalKeyProvider.open(file);
      rotator.addVersion();
      const v2Key = await rotator.generateDataKey('card-pan');
      expect((await stale.unwrapDataKey(v2Key, v2Key.wrapped, 'card-pan')).equals(v2Key.plaintext)).toBe(true);
    });

    // BUG (src/vault/keys/local-key-provider.ts, addVersion): the next version number and the key
    // set come from this instance's memory, not from the file (read-modify-write without a lock or
    // re-read). An instance that has not re-read the file since another one rotated (or two
    // concurrent `keys:rotate` runs) writes its own "v2" over the other's, and every data key
    // wrapped under the lost v2 can never be unwrapped again. Marked `failing` to document the bug;
    // turn it into `it` once fixed.
    it('two instances rotating one after the other do not overwrite each other\'s version', async () => {
      const file = path.join(dir, 'master.json');
      const first = LocalKeyProvider.open(file);
      const second = LocalKeyProvider.open(file);
      first.addVersion();
      const key = await first.generateDataKey('card-pan');
      second.addVersion();
      const reopened = LocalKeyProvider.open(file);
      expect((await reopened.unwrapDataKey(key, key.wrapped, 'card-pan')).equals(key.plaintext)).toBe(true);
      expect(reopened.currentKey().keyVersion).toBe(3);
    });

    it('rewrapDataKey moves a v1 key to v2 with the identical plaintext', async () => {
      const provider = LocalKeyProvider.open(path.join(dir, 'master.json'));
      const v1Key = await provider.generateDataKey('card-pan');
      const original = Buffer.from(v1Key.plaintext);
      provider.addVersion();

      const moved = await provider.rewrapDataKey(v1Key, v1Key.wrapped, 'card-pan');
      expect(moved.ref).toEqual({ keyId: 'local-master', keyVersion: 2 });
      expect(moved.wrapped.equals(v1Key.wrapped)).toBe(false);
      const unwrapped = await provider.unwrapDataKey(moved.ref, moved.wrapped, 'card-pan');
      expect(unwrapped.equals(original)).toBe(true);
      // The caller's copy of the data key was not touched by the re-wrap.
      expect(v1Key.plaintext.equals(original)).toBe(true);
      // The re-wrapped key is still bound to its purpose.
      await expect(provider.unwrapDataKey(moved.ref, moved.wrapped, 'card-cvv')).rejects.toThrow(KeyUnwrapError);
    });
  });
});
