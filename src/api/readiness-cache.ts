import type { ReadinessReport } from './readiness';

export interface ReadinessCacheOptions {
  /** How long an answer is reused after its probe finished. Default 2000 ms. */
  ttlMs?: number;
  now?: () => number;
}

/**
 * GET /readyz is public and each real probe starts a readiness workflow (./readiness.ts): without
 * this, a flood of /readyz requests was a flood of workflow starts, task-queue work and history
 * on the Temporal cluster. Here at most one probe runs at a time per API process (concurrent
 * requests share the one in flight), and its answer is reused for `ttlMs` after it finished, so
 * the probe rate is bounded by one per `ttlMs` + probe time whatever the request rate. A load
 * balancer polling every few seconds still sees a fresh answer.
 */
export class ReadinessCache {
  private inFlight: Promise<ReadinessReport> | undefined;
  private last: { report: ReadinessReport; at: number } | undefined;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly probe: () => Promise<ReadinessReport>,
    options: ReadinessCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 2_000;
    this.now = options.now ?? Date.now;
  }

  check(): Promise<ReadinessReport> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return Promise.resolve(this.last.report);
    this.inFlight ??= this.probe()
      .then((report) => {
        this.last = { report, at: this.now() };
        return report;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}
