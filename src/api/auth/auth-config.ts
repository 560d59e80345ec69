import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { z } from 'zod';
import { ConfigError } from '../../config/env';
import { createSecretFileOnce, looseMode } from '../../config/secret-file';

/**
 * Authentication configuration (DESIGN.md §3, invariant 6), read from the environment.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | JWT_ISSUER | card-gateway-dev | the required `iss` |
 * | JWT_AUDIENCE | card-gateway-api | the required `aud` |
 * | JWT_OPS_AUDIENCE | card-gateway-ops | the `aud` a token also needs to open an ops session (/ops/session) |
 * | JWT_ALGORITHMS | HS256 | comma list of RS256, ES256, HS256; HS256 never mixes with RS256/ES256 |
 * | JWT_SECRET | dev: generated into DATA_DIR/keys/jwt-dev-secret | HS256 shared secret, ≥ 32 characters |
 * | JWT_JWKS_URL | — | JWKS for RS256/ES256 (https, or http on a loopback host) |
 * | JWT_JWKS_FILE | — | JWKS file for RS256/ES256 (exactly one of URL and file) |
 * | JWT_CLOCK_SKEW_SECONDS | 30 | tolerance for `exp`/`nbf`, 0–300 |
 *
 * With NODE_ENV=production, HS256 requires an explicit JWT_SECRET: no secret is ever generated.
 */

export const JWT_ALGORITHMS = ['RS256', 'ES256', 'HS256'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** The file (under DATA_DIR) holding the development HS256 secret; the API and the token CLI share it. */
export const DEV_SECRET_RELATIVE_PATH = path.join('keys', 'jwt-dev-secret');
export const MIN_SECRET_LENGTH = 32;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export const authConfigSchema = z.object({
  JWT_ISSUER: z.string().trim().min(1).max(256).default('card-gateway-dev'),
  JWT_AUDIENCE: z.string().trim().min(1).max(256).default('card-gateway-api'),
  JWT_OPS_AUDIENCE: z.string().trim().min(1).max(256).default('card-gateway-ops'),
  JWT_ALGORITHMS: z
    .string()
    .default('HS256')
    .transform((v) => v.split(',').map((a) => a.trim()).filter(Boolean))
    .pipe(
      z
        .array(z.enum(JWT_ALGORITHMS, { error: `must be a comma list of ${JWT_ALGORITHMS.join(', ')}` }))
        .min(1, `must name at least one of ${JWT_ALGORITHMS.join(', ')}`)
        .transform((list) => [...new Set(list)]),
    ),
  JWT_SECRET: z.string().min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`).optional(),
  JWT_JWKS_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .optional()
    .refine(
      // (An unparseable URL was already reported by the check above.)
      (u) => u === undefined || !URL.canParse(u) || u.startsWith('https:') || LOOPBACK_HOSTS.has(new URL(u).hostname),
      'must use https (plain http is accepted only for a loopback host)',
    ),
  JWT_JWKS_FILE: z
    .string()
    .trim()
    .min(1)
    .optional()
    .transform((p) => (p === undefined ? undefined : path.resolve(p))),
  JWT_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  NODE_ENV: z.string().optional(),
});

export type JwksDocument = JSONWebKeySet;

/** Where verification keys come from. The HS256 secret is non-enumerable, so logging the config never shows it. */
export type KeySource =
  | { kind: 'secret'; origin: 'env' | 'dev-file'; file?: string; readonly secret: Uint8Array }
  | { kind: 'jwks-url'; url: URL }
  | { kind: 'jwks-file'; file: string; jwks: JwksDocument };

export interface AuthConfig {
  issuer: string;
  audience: string;
  /** The audience an operator's browser token carries beside `audience` (src/api/routes/ops-session.ts). */
  opsAudience: string;
  /** Non-empty; either exactly ['HS256'] or a subset of RS256/ES256. */
  algorithms: JwtAlgorithm[];
  clockSkewSeconds: number;
  key: KeySource;
}

function secretSource(origin: 'env' | 'dev-file', secret: string, file?: string): KeySource {
  const source = { kind: 'secret', origin, ...(file ? { file } : {}) } as KeySource;
  Object.defineProperty(source, 'secret', { value: new TextEncoder().encode(secret), enumerable: false });
  return source;
}

/**
 * Reads (or creates, once, 0600) the development HS256 secret under DATA_DIR. Created aside and
 * linked into place so an API and a token CLI starting together agree on one secret.
 */
export function devSecret(dataDir: string): { file: string; secret: string } {
  const file = path.join(dataDir, DEV_SECRET_RELATIVE_PATH);
  createSecretFileOnce(file, () => `${randomBytes(32).toString('base64url')}\n`);
  const mode = looseMode(file);
  if (mode) {
    throw new ConfigError('JWT_SECRET', `is unset and the development secret ${file} is readable by others (mode ${mode}); run: chmod 600 ${file}`);
  }
  const secret = fs.readFileSync(file, 'utf8').trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError('JWT_SECRET', `is unset and the development secret ${file} is shorter than ${MIN_SECRET_LENGTH} characters; delete it to have a new one generated`);
  }
  return { file, secret };
}

function readJwksFile(file: string): JwksDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError('JWT_JWKS_FILE', `cannot be read as JSON (${file}: ${(err as Error).message})`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'object' && k !== null && typeof (k as { kty?: unknown }).kty === 'string')) {
    throw new ConfigError('JWT_JWKS_FILE', `must hold a JWK Set {"keys": [...]} with at least one key (${file})`);
  }
  if (keys.some((k: Record<string, unknown>) => 'd' in k || 'k' in k)) {
    throw new ConfigError('JWT_JWKS_FILE', `must hold public keys only: private or symmetric key material found in ${file}`);
  }
  return { keys } as JSONWebKeySet;
}

/** Parses and checks the authentication configuration; throws ConfigError naming the variable. */
export function loadAuthConfig(env: NodeJS.ProcessEnv, dataDir: string): AuthConfig {
  // An empty variable means "not set", as in src/config/env.ts.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = authConfigSchema.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const value = present[variable];
    const shown = value !== undefined && variable !== 'JWT_SECRET' ? ` (got "${value.slice(0, 80)}")` : '';
    throw new ConfigError(variable, `${issue.message}${shown}`);
  }
  const cfg = result.data;
  const algorithms = cfg.JWT_ALGORITHMS;
  const hmac = algorithms.includes('HS256');
  const asymmetric = algorithms.filter((a) => a !== 'HS256');

  if (hmac && asymmetric.length > 0) {
    throw new ConfigError(
      'JWT_ALGORITHMS',
      `must not mix HS256 with ${asymmetric.join(', ')} (got "${algorithms.join(',')}"): accepting both lets a public key be used as an HMAC secret (algorithm confusion)`,
    );
  }

  const base = { issuer: cfg.JWT_ISSUER, audience: cfg.JWT_AUDIENCE, opsAudience: cfg.JWT_OPS_AUDIENCE, algorithms, clockSkewSeconds: cfg.JWT_CLOCK_SKEW_SECONDS };

  if (hmac) {
    if (cfg.JWT_SECRET !== undefined) return { ...base, key: secretSource('env', cfg.JWT_SECRET) };
    if (cfg.NODE_ENV === 'production') {
      throw new ConfigError('JWT_SECRET', 'must be set when JWT_ALGORITHMS includes HS256 and NODE_ENV=production (no development secret is generated in production)');
    }
    const dev = devSecret(dataDir);
    return { ...base, key: secretSource('dev-file', dev.secret, dev.file) };
  }

  if (cfg.JWT_JWKS_URL !== undefined && cfg.JWT_JWKS_FILE !== undefined) {
    throw new ConfigError('JWT_JWKS_URL', 'and JWT_JWKS_FILE are both set: choose one JWKS source');
  }
  if (cfg.JWT_JWKS_URL !== undefined) return { ...base, key: { kind: 'jwks-url', url: new URL(cfg.JWT_JWKS_URL) } };
  if (cfg.JWT_JWKS_FILE !== undefined) {
    return { ...base, key: { kind: 'jwks-file', file: cfg.JWT_JWKS_FILE, jwks: readJwksFile(cfg.JWT_JWKS_FILE) } };
  }
  throw new ConfigError('JWT_JWKS_URL', `or JWT_JWKS_FILE must be set when JWT_ALGORITHMS is ${algorithms.join(',')} (public keys to verify with)`);
}
