import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { loadAuthConfig } from '../../src/api/auth/auth-config';
import { createTokenVerifier } from '../../src/api/auth/verify-token';

/** `npm run --silent token` is `node dist/cli/token.js` after the build; jest's globalSetup has built dist/. */
const CLI = path.resolve(__dirname, '../../dist/cli/token.js');
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of this process without any JWT_* variable, plus `extra`. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JWT_') && k !== 'NODE_ENV'));
  return { ...env, ...extra };
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('npm run token (dist/cli/token.js)', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'token-cli-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('prints exactly one JWT, for the merchant and scope, that the API verifier accepts', async () => {
    const env = cleanEnv({ DATA_DIR: dataDir });
    const run = await runCli(['--merchant', 'm_x', '--scope', 'payments:read'], env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.endsWith('\n')).toBe(true);
    const lines = run.stdout.slice(0, -1).split('\n');
    expect(lines).toHaveLength(1);
    const token = lines[0]!;
    expect(token).toMatch(JWT);

    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', typ: 'JWT' });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({ sub: 'm_x', scope: 'payments:read', iss: 'card-gateway-dev', aud: 'card-gateway-api' });
    expect(Math.abs(payload.exp! - (Date.now() / 1000 + 3600))).toBeLessThan(30);

    // The development secret was created once, 0600, where the API looks for it.
    const secretFile = path.join(dataDir, 'keys', 'jwt-dev-secret');
    expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600);

    const verifier = createTokenVerifier(loadAuthConfig({}, dataDir));
    const principal = await verifier.verify(token);
    expect(principal.subject).toBe('m_x');
    expect([...principal.scopes]).toEqual(['payments:read']);
    expect(principal.kind).toBe('merchant');
  });

  it('reuses the same development secret on later runs, with the default scopes and a custom ttl', async () => {
    const env = cleanEnv({ DATA_DIR: dataDir });
    await runCli(['--merchant', 'm_1'], env);
    const secret = fs.readFileSync(path.join(dataDir, 'keys', 'jwt-dev-secret'), 'utf8');
    const run = await runCli(['--merchant', 'm_2', '--ttl', '5m'], env);
    expect(run.code).toBe(0);
    expect(fs.readFileSync(path.join(dataDir, 'keys', 'jwt-dev-secret'), 'utf8')).toBe(secret);
    const token = run.stdout.trim();
    const payload = decodeJwt(token);
    expect(payload.scope).toBe('payments:write payments:read refunds:write');
    expect(Math.abs(payload.exp! - (Date.now() / 1000 + 300))).toBeLessThan(30);
    await expect(createTokenVerifier(loadAuthConfig({}, dataDir)).verify(token)).resolves.toMatchObject({ subject: 'm_2' });
  });

  it('signs with JWT_SECRET and the configured issuer and audience when set', async () => {
    const jwtEnv = { JWT_SECRET: 'x'.repeat(40), JWT_ISSUER: 'iss-test', JWT_AUDIENCE: 'aud-test' };
    const run = await runCli(['--merchant', 'm_3', '--scope', 'ops'], cleanEnv({ DATA_DIR: dataDir, ...jwtEnv }));
    expect(run.code).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'keys', 'jwt-dev-secret'))).toBe(false);
    const principal = await createTokenVerifier(loadAuthConfig(jwtEnv, dataDir)).verify(run.stdout.trim());
    expect(principal).toMatchObject({ subject: 'm_3', kind: 'operator' });
    // An ops token is also for the ops audience (what opens a browser ops session); a merchant's is not.
    expect(decodeJwt(run.stdout.trim()).aud).toEqual(['aud-test', 'card-gateway-ops']);
    const merchant = await runCli(['--merchant', 'm_4', '--scope', 'payments:read'], cleanEnv({ DATA_DIR: dataDir, ...jwtEnv }));
    expect(decodeJwt(merchant.stdout.trim()).aud).toBe('aud-test');
  });

  it.each([
    ['no merchant', [], {}, /--merchant <id> is required/],
    ['a bad merchant id', ['--merchant', 'm 1'], {}, /--merchant must be/],
    ['an unknown scope', ['--merchant', 'm_1', '--scope', 'payments:read,admin'], {}, /unknown scope admin/],
    ['a bad ttl', ['--merchant', 'm_1', '--ttl', 'forever'], {}, /--ttl/],
    ['an unknown option', ['--merchant', 'm_1', '--admin'], {}, /Unknown option/],
    ['an RS256-only configuration', ['--merchant', 'm_1'], { JWT_ALGORITHMS: 'RS256', JWT_JWKS_URL: 'https://idp.example/jwks.json' }, /signs HS256/],
  ])('fails with exit 1, nothing on stdout and a message on stderr for %s', async (_name, args, extra, message) => {
    const run = await runCli(args, cleanEnv({ DATA_DIR: dataDir, ...extra }));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });
});
