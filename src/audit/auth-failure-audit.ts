import type { AuditLog } from './audit-log';
import { maskPans } from '../logging/pan-mask';
import type { Db } from '../storage/db';

export interface AuthFailureAuditOptions {
  /** How often the counts gathered so far are written. Default 1000 ms. */
  flushIntervalMs?: number;
  /**
   * Distinct (code, path) pairs kept per interval; the rest are counted under path `(other)`, so
   * a flood of random paths cannot grow memory or the number of rows. Default 32.
   */
  maxKeys?: number;
  /** Told when a flush fails (the counts of that interval are then lost, and said so in the log). */
  onError?: (err: unknown, lost: number) => void;
  now?: () => number;
}

const OTHER_PATH = '(other)';
const MAX_PATH_LENGTH = 100;

interface Tally {
  code: string;
  path: string;
  count: number;
  first: number;
  last: number;
}

/**
 * The audit trail of authentication failures, written in batches.
 *
 * Every audit append takes the chain's one lock (the write lock on SQLite, an advisory lock on
 * PostgreSQL: src/audit/audit-log.ts), and so does every card seal, which audits in the same
 * transaction. Written one row per refused request, as before, a flood of bad tokens queued its
 * appends on that lock and card sealing waited behind them. Here a failure is only counted in
 * memory (no I/O on the request path, the 401 is not delayed), and once per interval the counts
 * are written as one row per (code, path) with `count`, `first_at` and `last_at`, in one
 * transaction: at most one lock acquisition per interval, whatever the rate of failures.
 */
export class AuthFailureAudit {
  private tallies = new Map<string, Tally>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly options: AuthFailureAuditOptions = {},
  ) {
    this.maxKeys = options.maxKeys ?? 32;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1_000);
    this.timer.unref(); // an idle audit must not keep the process alive; close() writes the rest
  }

  /** Counts one refused request; synchronous, no I/O. */
  record(code: string, path: string): void {
    const at = this.now();
    // The path is the client's: a careless one may put a card number in it.
    const shortPath = maskPans(path).slice(0, MAX_PATH_LENGTH);
    const exact = `${code} ${shortPath}`;
    // Beyond maxKeys, new paths share one tally per code (codes are a fixed, short list).
    const overflow = !this.tallies.has(exact) && this.tallies.size >= this.maxKeys;
    const key = overflow ? `${code} ${OTHER_PATH}` : exact;
    const tally = this.tallies.get(key);
    if (tally) {
      tally.count += 1;
      tally.last = at;
    } else {
      this.tallies.set(key, { code, path: overflow ? OTHER_PATH : shortPath, count: 1, first: at, last: at });
    }
  }

  /** Writes the counts gathered since the last flush (one transaction); flushes run one at a time. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.tallies.size === 0) return;
    const batch = [...this.tallies.values()];
    this.tallies = new Map();
    try {
      await this.db.transaction(async (tx) => {
        for (const t of batch) {
          await this.audit.append(
            {
              actor: 'anonymous',
              action: 'auth.failure',
              outcome: 'failure',
              details: { code: t.code, path: t.path, count: t.count, first_at: t.first, last_at: t.last },
            },
            tx,
          );
        }
      });
    } catch (err) {
      this.options.onError?.(err, batch.reduce((sum, t) => sum + t.count, 0));
    }
  }
}
