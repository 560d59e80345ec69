// Test cases for ../rules/node-crypto.yml (semgrep --test). Bad on purpose; not scanned as code.
import * as crypto from 'node:crypto';
declare const key: Buffer;
declare const iv: Buffer;
declare const signature: string;
declare const expected: string;

// ruleid: gateway.cipher-without-iv
crypto.createCipher('aes-256-cbc', 'password');
// ruleid: gateway.weak-cipher-mode
crypto.createCipheriv('aes-256-ecb', key, null);
// ok: gateway.weak-cipher-mode
crypto.createCipheriv('aes-256-gcm', key, iv);
// ruleid: gateway.weak-hash
crypto.createHash('md5');
// ok: gateway.weak-hash
crypto.createHash('sha256');
// ruleid: gateway.pseudo-random-bytes
crypto.pseudoRandomBytes(16);
// ruleid: gateway.deprecated-buffer-constructor
new Buffer(16);
// ruleid: gateway.secret-compared-with-equals
if (signature === expected) console.log('ok');
// ok: gateway.secret-compared-with-equals
if (crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected))) console.log('ok');
