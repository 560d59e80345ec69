import { createHash } from 'node:crypto';
import { OPS_COOKIE } from '../api/routes/ops-session';

/** What the API said about a browser's ops cookie. */
export type SessionVerdict = { signedIn: true; subject: string } | { signedIn: false; status: number };

/**
 * Asks the API (GET /ops/session) whether a browser's ops cookie is a live operator session. The
 * proxy holds no key to verify a token itself: the API's verifier (issuer, audience, algorithms,
 * expiry, the `ops` scope, the audit of failures) stays the only one.
 *
 * One page of the Web UI loads dozens of assets and API calls, so a verdict is kept for a few
 * seconds per cookie (by its hash, never the token itself) instead of asking the API for each one.
 * A session thus outlives its token's expiry by at most `cacheMs`.
 */
export class OpsSessionCheck {
  private readonly verdicts = new Map<string, { verdict: SessionVerdict; until: number }>();

  constructor(
    private readonly apiUrl: string,
    // `now`: the clock the cache reads (a test moves it instead of sleeping past `cacheMs`).
    private readonly options: { cacheMs?: number; maxEntries?: number; timeoutMs?: number; now?: () => number } = {},
  ) {}

  /** `token`: the value of the browser's ops cookie. */
  async check(token: string): Promise<SessionVerdict> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = (this.options.now ?? Date.now)();
    const cached = this.verdicts.get(key);
    if (cached && cached.until > now) return cached.verdict;
    let response: Response;
    try {
      response = await fetch(`${this.apiUrl}/ops/session`, {
        headers: { Cookie: `${OPS_COOKIE}=${encodeURIComponent(token)}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      });
    } catch {
      return { signedIn: false, status: 503 }; // the API is down or slow: no verdict, nothing kept
    }
    const body = (await response.json().catch(() => ({}))) as { subject?: unknown };
    const verdict: SessionVerdict =
      response.ok && typeof body.subject === 'string' ? { signedIn: true, subject: body.subject } : { signedIn: false, status: response.status };
    // An API that cannot answer (5xx) is not a verdict on the cookie: ask again next time.
    if (response.status < 500) this.remember(key, verdict, now);
    return verdict;
  }

  private remember(key: string, verdict: SessionVerdict, now: number): void {
    if (this.verdicts.size >= (this.options.maxEntries ?? 1_000)) {
      for (const [k, v] of this.verdicts) if (v.until <= now) this.verdicts.delete(k);
      // Still full of live entries: drop the oldest (a Map iterates in insertion order).
      if (this.verdicts.size >= (this.options.maxEntries ?? 1_000)) this.verdicts.delete(this.verdicts.keys().next().value!);
    }
    this.verdicts.set(key, { verdict, until: now + (this.options.cacheMs ?? 5_000) });
  }
}
