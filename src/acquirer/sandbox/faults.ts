import { z } from 'zod';
import { seededRandom } from './seeded-random';

/**
 * Fault knobs: how the sandbox misbehaves, so tests can check that the gateway retries transient
 * failures and never moves money twice. Set per test through PUT /_sandbox/faults, or at start
 * through ACQUIRER_SANDBOX_FAULTS (JSON of the same shape).
 *
 * Every money call first waits `latencyMs`, then draws one random number r in [0, 1):
 * r < hangRate hangs for `hangMs` then answers 503; else r < hangRate + errorRate answers 503 at
 * once; else the call goes through. A faulted call does nothing else: no ledger row, no
 * idempotency record, so a retry with the same key can still succeed.
 */
export const DEFAULT_HANG_MS = 60_000;
const MAX_DELAY_MS = 10 * 60_000;

export const faultsSchema = z
  .strictObject({
    latencyMs: z.number().int().min(0).max(MAX_DELAY_MS).optional(),
    errorRate: z.number().min(0).max(1).optional(),
    hangRate: z.number().min(0).max(1).optional(),
    hangMs: z.number().int().min(0).max(MAX_DELAY_MS).optional(),
    /** Draws from a seeded generator instead of Math.random, so a run's faults can be replayed. */
    seed: z.number().int().optional(),
  })
  .refine((f) => (f.errorRate ?? 0) + (f.hangRate ?? 0) <= 1, {
    message: 'errorRate + hangRate must be at most 1: they are shares of the same calls',
  });

export type Faults = z.input<typeof faultsSchema>;

export interface EffectiveFaults {
  latencyMs: number;
  errorRate: number;
  hangRate: number;
  hangMs: number;
  seed?: number;
}

export type FaultOutcome = 'proceed' | 'error' | 'hang';

export class FaultsConfigError extends Error {
  constructor(detail: string) {
    super(`Invalid fault knobs: ${detail}`);
    this.name = 'FaultsConfigError';
  }
}

/** Parses ACQUIRER_SANDBOX_FAULTS (or any JSON text of the same shape); throws FaultsConfigError. */
export function parseFaultsJson(text: string): Faults {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FaultsConfigError('not valid JSON (expected e.g. {"errorRate":0.2,"latencyMs":50})');
  }
  return parseFaults(value);
}

export function parseFaults(value: unknown): Faults {
  const result = faultsSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new FaultsConfigError(`${where}${issue.message}`);
  }
  return result.data;
}

function withDefaults(f: Faults): EffectiveFaults {
  return {
    latencyMs: f.latencyMs ?? 0,
    errorRate: f.errorRate ?? 0,
    hangRate: f.hangRate ?? 0,
    hangMs: f.hangMs ?? DEFAULT_HANG_MS,
    ...(f.seed === undefined ? {} : { seed: f.seed }),
  };
}


export class FaultInjector {
  private faults: EffectiveFaults;
  private random: () => number;
  /** Wakes every call waiting out latency or a hang; used at shutdown so close() is not held up. */
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  constructor(
    initial: Faults = {},
    private readonly unseededRandom: () => number = Math.random,
  ) {
    this.faults = withDefaults(initial);
    this.random = this.generatorFor(this.faults);
  }

  current(): EffectiveFaults {
    return { ...this.faults };
  }

  /** Replaces every knob: an absent knob goes back to its default (PUT semantics). */
  set(faults: Faults): EffectiveFaults {
    this.faults = withDefaults(faults);
    this.random = this.generatorFor(this.faults);
    return this.current();
  }

  reset(): EffectiveFaults {
    return this.set({});
  }

  /** Decides the fate of one money call, after waiting out the latency and any hang. */
  async inject(): Promise<FaultOutcome> {
    const { latencyMs, errorRate, hangRate, hangMs } = this.faults;
    if (latencyMs > 0) await this.sleep(latencyMs);
    const r = this.random();
    if (r < hangRate) {
      await this.sleep(hangMs);
      return 'hang';
    }
    if (r < hangRate + errorRate) return 'error';
    return 'proceed';
  }

  /** Ends every wait now and skips those to come: the server is shutting down. */
  shutdown(): void {
    this.stopped = true;
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }

  private generatorFor(faults: EffectiveFaults): () => number {
    return faults.seed === undefined ? this.unseededRandom : seededRandom(faults.seed);
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}
