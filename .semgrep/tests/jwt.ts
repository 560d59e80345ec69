// Test cases for ../rules/jwt.yml (semgrep --test). Bad on purpose; not scanned as code.
import { jwtVerify, type JWTVerifyOptions } from 'jose';
declare const token: string;
declare const key: Uint8Array;

async function cases() {
  // ruleid: gateway.jwt-verify-without-algorithms
  await jwtVerify(token, key);
  // ruleid: gateway.jwt-verify-without-algorithms
  await jwtVerify(token, key, { issuer: 'gateway' });
  // ok: gateway.jwt-verify-without-algorithms
  await jwtVerify(token, key, { algorithms: ['HS256'], issuer: 'gateway' });
}

async function viaVariable() {
  const options: JWTVerifyOptions = { issuer: 'gateway' };
  // ruleid: gateway.jwt-verify-without-algorithms
  await jwtVerify(token, key, options);
}

async function viaVariableGood() {
  const options: JWTVerifyOptions = { algorithms: ['ES256'], issuer: 'gateway' };
  // ok: gateway.jwt-verify-without-algorithms
  await jwtVerify(token, key, options);
}

// ruleid: gateway.jwt-none-algorithm
const allowed = { algorithms: ['HS256', 'none'] };

async function hardcoded() {
  // ruleid: gateway.jwt-hardcoded-secret
  await jwtVerify(token, new TextEncoder().encode('not-a-real-secret'), { algorithms: ['HS256'] });
}
export { cases, viaVariable, viaVariableGood, allowed, hardcoded };
