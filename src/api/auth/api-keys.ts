import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../storage/db';
import { SUBJECT_PATTERN, type Principal, type Scope } from './verify-token';

/**
 * Merchants' API keys, as Stripe's integrations use them (docs/stripe-compat.md): a secret key
 * `sk_test_…` carries every merchant scope, a restricted key `rk_test_…` the scopes chosen for it.
 * Accepted as `Authorization: Bearer <key>` beside JWTs. Only a SHA-256 hash of a key is stored;
 * the key itself is shown once, when it is created, and never logged (the request log redacts the
 * Authorization header). Revoking takes effect on the next request.
 */

/** What a merchant's secret key may do: everything a merchant may (operations are not a merchant's). */
export const MERCHANT_SCOPES: readonly Scope[] = ['payments:write', 'payments:read', 'refunds:write'];

export type ApiKeyKind = 'secret' | 'restricted';

export interface ApiKeyInfo {
  id: string;
  merchantId: string;
  kind: ApiKeyKind;
  /** How the key is shown in a listing: `sk_test_…abcd`. */
  redacted: string;
  scopes: Scope[];
  createdAt: number;
  revokedAt?: number;
}

const PREFIX: Record<ApiKeyKind, string> = { secret: 'sk_test_', restricted: 'rk_test_' };
/** `sk_test_` or `rk_test_` and 32 base62 characters (190 bits). `_live_` keys are not issued here. */
export const API_KEY_PATTERN = /^(sk|rk)_test_[A-Za-z0-9]{32}$/;
/** Anything shaped like a key (so a malformed key is told apart from a JWT). */
export const LOOKS_LIKE_API_KEY = /^(sk|rk)_(test|live)_/;

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomBase62(length: number): string {
  // Rejection sampling: 248 is the largest multiple of 62 below 256, so every character is uniform.
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

const hashOf = (key: string) => createHash('sha256').update(key).digest('hex');

interface ApiKeyRow {
  id: string;
  merchant_id: string;
  kind: string;
  last4: string;
  scopes: string;
  created_at: number | string;
  revoked_at: number | string | null;
}

function infoOf(row: ApiKeyRow): ApiKeyInfo {
  const kind = row.kind as ApiKeyKind;
  return {
    id: row.id,
    merchantId: row.merchant_id,
    kind,
    redacted: `${PREFIX[kind]}…${row.last4}`,
    scopes: JSON.parse(row.scopes) as Scope[],
    createdAt: Number(row.created_at),
    ...(row.revoked_at !== null ? { revokedAt: Number(row.revoked_at) } : {}),
  };
}

export class ApiKeyError extends Error {}

export class ApiKeys {
  constructor(private readonly db: Db) {}

  /** A new key: the key itself (shown once, never stored) and what is kept of it. */
  async create(merchantId: string, scopes?: readonly Scope[]): Promise<{ key: string; info: ApiKeyInfo }> {
    if (!SUBJECT_PATTERN.test(merchantId)) throw new ApiKeyError('the merchant id must be 1-64 letters, digits, "_" or "-"');
    const chosen = scopes === undefined ? [...MERCHANT_SCOPES] : [...new Set(scopes)];
    const outside = chosen.filter((s) => !MERCHANT_SCOPES.includes(s));
    if (outside.length) throw new ApiKeyError(`an API key cannot carry ${outside.join(', ')}: keys are merchants' (${MERCHANT_SCOPES.join(', ')})`);
    if (chosen.length === 0) throw new ApiKeyError('a restricted key needs at least one scope');
    const kind: ApiKeyKind = scopes === undefined ? 'secret' : 'restricted';
    const key = `${PREFIX[kind]}${randomBase62(32)}`;
    const id = `key_${randomBytes(12).toString('hex')}`;
    const createdAt = Date.now();
    await this.db.execute(
      'INSERT INTO api_keys (id, merchant_id, kind, key_hash, last4, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [id, merchantId, kind, hashOf(key), key.slice(-4), JSON.stringify(chosen), createdAt],
    );
    return { key, info: { id, merchantId, kind, redacted: `${PREFIX[kind]}…${key.slice(-4)}`, scopes: chosen, createdAt } };
  }

  /** The merchant a live key speaks for, with its scopes; undefined for an unknown or revoked key. */
  async verify(key: string): Promise<Principal | undefined> {
    if (!API_KEY_PATTERN.test(key)) return undefined;
    const [row] = await this.db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE key_hash = $1', [hashOf(key)]);
    if (!row || row.revoked_at !== null) return undefined;
    const info = infoOf(row);
    return { subject: info.merchantId, scopes: new Set(info.scopes), kind: 'merchant' };
  }

  async list(merchantId?: string): Promise<ApiKeyInfo[]> {
    const rows = merchantId === undefined
      ? await this.db.query<ApiKeyRow>('SELECT * FROM api_keys ORDER BY created_at, id')
      : await this.db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE merchant_id = $1 ORDER BY created_at, id', [merchantId]);
    return rows.map(infoOf);
  }

  /** Revokes a key by id; false if there is no such key. Revoking twice keeps the first time. */
  async revoke(id: string): Promise<boolean> {
    const [row] = await this.db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE id = $1', [id]);
    if (!row) return false;
    await this.db.execute('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [Date.now(), id]);
    return true;
  }
}
