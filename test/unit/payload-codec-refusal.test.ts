import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { EncryptionCodec } from '../../src/temporal/payload-codec';
import { isUnencryptedPayload } from '../../src/workflows/unencrypted-payload';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';

/** The codec's two sides, with a real local key and real AES-GCM: workers refuse what the key did not write, clients read it. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codec-refusal-'));
const keys = LocalKeyProvider.open(path.join(dir, 'master-key.json'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const plain = (value: unknown): Payload => defaultPayloadConverter.toPayload(value)!;
const value = (payload: Payload): unknown => defaultPayloadConverter.fromPayload(payload);

describe('EncryptionCodec and unencrypted payloads', () => {
  const worker = new EncryptionCodec(keys, { refuseUnencrypted: true });
  const client = new EncryptionCodec(keys);

  it('a worker decodes what the key encrypted, as it was', async () => {
    const [encoded] = await client.encode([plain({ requestId: 'r1', amount: 100 })]);
    const [decoded] = await worker.decode([encoded!]);
    expect(value(decoded!)).toEqual({ requestId: 'r1', amount: 100 });
  });

  it('a worker decodes a plain JSON payload to the refusal marker, never to its content', async () => {
    const [decoded] = await worker.decode([plain({ requestId: 'crafted', amount: 100 })]);
    expect(isUnencryptedPayload(value(decoded!))).toBe(true);
    const [bytes] = await worker.decode([{ metadata: { encoding: new TextEncoder().encode('binary/plain') }, data: new Uint8Array([1, 2]) }]);
    expect(isUnencryptedPayload(value(bytes!))).toBe(true);
    const [noEncoding] = await worker.decode([{ data: new TextEncoder().encode('{"amount":1}') }]);
    expect(isUnencryptedPayload(value(noEncoding!))).toBe(true);
  });

  it('a worker keeps "no value" (binary/null) as it is: it carries nothing to act on', async () => {
    const none = plain(undefined);
    expect(await worker.decode([none])).toEqual([none]);
  });

  it('a client (the API, the Web UI codec endpoint) still reads what the server wrote unencrypted', async () => {
    const crafted = plain({ requestId: 'crafted' });
    expect(await client.decode([crafted])).toEqual([crafted]);
  });

  it('the marker is not something a request can be mistaken for', () => {
    expect(isUnencryptedPayload({ refused: 'unencrypted_payload', requestId: 'x' })).toBe(false);
    expect(isUnencryptedPayload(null)).toBe(false);
  });
});
