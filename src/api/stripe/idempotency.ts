import { createHash } from 'node:crypto';
import type { Db } from '../../storage/db';
import { StripeError } from './stripe-errors';

/** How long an Idempotency-Key's first answer is replayed (Stripe: 24 hours). */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

export interface StoredAnswer {
  status: number;
  body: unknown;
}

/**
 * Stripe's idempotency, for the Stripe-compatible routes: the first answer to a key (status and
 * body, errors included) is replayed for 24 h; the same key with other parameters is a 400
 * `idempotency_error`; a key whose first request is still running is a 409 (the client retries).
 * Only requests that passed validation get here, so a refused one saves nothing; a 503 is not
 * saved either (the work underneath is idempotent, and the client is told to retry).
 */
export class StripeIdempotency {
  private lastSweep = 0;

  constructor(private readonly db: Db) {}

  static hash(method: string, path: string, params: unknown): string {
    return createHash('sha256').update(JSON.stringify([method, path, canonical(params)])).digest('hex');
  }

  async run(merchantId: string, key: string | undefined, requestHash: string, work: () => Promise<StoredAnswer>): Promise<StoredAnswer & { replayed: boolean }> {
    if (key === undefined) return { ...(await work()), replayed: false };
    await this.sweep();
    const now = Date.now();
    const inserted = await this.db.execute(
      `INSERT INTO stripe_idempotency (merchant_id, idempotency_key, request_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (merchant_id, idempotency_key) DO NOTHING`,
      [merchantId, key, requestHash, now],
    );
    if (inserted === 0) {
      const [row] = await this.db.query<{ request_hash: string; status: number | null; body: string | null; created_at: number | string }>(
        'SELECT request_hash, status, body, created_at FROM stripe_idempotency WHERE merchant_id = $1 AND idempotency_key = $2',
        [merchantId, key],
      );
      if (row && Number(row.created_at) < now - IDEMPOTENCY_TTL_MS) {
        // Expired: forgotten, and this request is new.
        await this.db.execute('DELETE FROM stripe_idempotency WHERE merchant_id = $1 AND idempotency_key = $2 AND created_at = $3', [merchantId, key, row.created_at]);
        return this.run(merchantId, key, requestHash, work);
      }
      if (!row) return this.run(merchantId, key, requestHash, work);
      if (row.request_hash !== requestHash) {
        throw new StripeError(
          400,
          'idempotency_error',
          undefined,
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key.slice(0, 64)}' if you meant to execute a different request.`,
        );
      }
      if (row.status === null) {
        throw new StripeError(409, 'idempotency_error', 'idempotency_key_in_use', 'There is currently another in-progress request using this Idempotency-Key; retry shortly');
      }
      return { status: row.status, body: JSON.parse(row.body!), replayed: true };
    }
    let answer: StoredAnswer;
    try {
      answer = await work();
    } catch (err) {
      const stored = err instanceof StripeError && err.status !== 503 && err.status !== 409 ? { status: err.status, body: err.toBody() } : undefined;
      if (stored) await this.save(merchantId, key, stored);
      else await this.forget(merchantId, key);
      throw err;
    }
    if (answer.status === 503) await this.forget(merchantId, key);
    else await this.save(merchantId, key, answer);
    return { ...answer, replayed: false };
  }

  private async save(merchantId: string, key: string, answer: StoredAnswer): Promise<void> {
    await this.db.execute('UPDATE stripe_idempotency SET status = $1, body = $2 WHERE merchant_id = $3 AND idempotency_key = $4', [answer.status, JSON.stringify(answer.body), merchantId, key]);
  }

  private async forget(merchantId: string, key: string): Promise<void> {
    await this.db.execute('DELETE FROM stripe_idempotency WHERE merchant_id = $1 AND idempotency_key = $2 AND status IS NULL', [merchantId, key]);
  }

  /** Keys past their 24 h go, at most once a minute per process. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    await this.db.execute('DELETE FROM stripe_idempotency WHERE created_at < $1', [now - IDEMPOTENCY_TTL_MS]);
  }
}

/** Parameters with object keys sorted: the same request, however its form fields were ordered. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}
