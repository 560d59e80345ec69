/**
 * `npm run --silent token -- --merchant <id> [--scope a,b] [--ttl 1h]`: prints a development
 * token (HS256, signed with JWT_SECRET or the development secret under DATA_DIR) and nothing else,
 * so `TOKEN=$(npm run --silent token -- --merchant m_1)` works. Errors go to stderr, exit code 1.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { loadAuthConfig } from '../api/auth/auth-config';
import { SCOPES, SUBJECT_PATTERN, type Scope } from '../api/auth/verify-token';
import { loadEnv } from '../config/env';

const USAGE = `usage: npm run --silent token -- --merchant <id> [--scope ${SCOPES.join(',')}] [--ttl 1h]
  --merchant  the token's subject (1-64 letters, digits, "_" or "-")
  --scope     comma-separated scopes (default payments:write,payments:read,refunds:write)
  --ttl       lifetime: <n>s, <n>m, <n>h or <n>d, at most 30d (default 1h)`;

const DEFAULT_SCOPES: Scope[] = ['payments:write', 'payments:read', 'refunds:write'];
const MAX_TTL_SECONDS = 30 * 24 * 3600;

class UsageError extends Error {}

function parseTtl(text: string): number {
  const match = /^(\d{1,7})([smhd])$/.exec(text.trim());
  if (!match) throw new UsageError(`--ttl must look like 30s, 15m, 1h or 7d (got "${text}")`);
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  if (seconds < 1 || seconds > MAX_TTL_SECONDS) throw new UsageError(`--ttl must be between 1s and 30d (got "${text}")`);
  return seconds;
}

function parseScopes(text: string): Scope[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = list.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new UsageError(`unknown scope ${unknown.join(', ')}; known scopes: ${SCOPES.join(', ')}`);
  if (list.length === 0) throw new UsageError('--scope must name at least one scope');
  return [...new Set(list as Scope[])];
}

async function main(): Promise<void> {
  let values: { merchant?: string; scope?: string; ttl?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        merchant: { type: 'string' },
        scope: { type: 'string' },
        ttl: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return;
  }
  const merchant = values.merchant;
  if (merchant === undefined) throw new UsageError('--merchant <id> is required');
  if (!SUBJECT_PATTERN.test(merchant)) throw new UsageError(`--merchant must be 1-64 letters, digits, "_" or "-" (got "${merchant.slice(0, 80)}")`);
  const scopes = values.scope === undefined ? DEFAULT_SCOPES : parseScopes(values.scope);
  const ttl = parseTtl(values.ttl ?? '1h');

  const config = loadAuthConfig(process.env, loadEnv().DATA_DIR);
  if (config.key.kind !== 'secret') {
    throw new Error(`this tool signs HS256 development tokens, but JWT_ALGORITHMS is ${config.algorithms.join(',')}: get tokens from your identity provider`);
  }

  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(merchant)
    .setIssuer(config.issuer)
    // An ops token is also for the ops audience: only those open a browser ops session (src/api/routes/ops-session.ts).
    .setAudience(scopes.includes('ops') ? [config.audience, config.opsAudience] : config.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .setJti(randomUUID())
    .sign(config.key.secret);
  process.stdout.write(`${token}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`token: ${err.message}\n`);
  if (err instanceof UsageError) process.stderr.write(`${USAGE}\n`);
  process.exitCode = 1;
});
