import { z } from 'zod';
import { seededRandom } from './seeded-random';

/**
 * Fault knobs: how the sandbox misbehaves, so tests can check that the gateway retries transient
 * failures, never moves money twice and never decides on a guess. Set per test through
 * PUT /_sandbox/faults, or at start through ACQUIRER_SANDBOX_FAULTS (JSON of the same shape).
 *
 * Every money call whose operation is in `operations` (all of them when absent) first waits
 * `latencyMs`, then draws one random number r in [0, 1), and the shares decide, in this order:
 * - hang (`hangRate`): waits `hangMs`, then answers 503 having done nothing;
 * - error (`errorRate`): answers 503 at once, having done nothing;
 * - lose_answer (`lostAnswerRate`): does the work (ledger row, stored answer), then closes the
 *   connection without answering — the failure real acquirers produce and retries cannot see;
 * - late_answer (`lateAnswerRate`): does the work at once, then answers only after `lateAnswerMs`,
 *   typically after the client stopped waiting.
 * A call that did nothing leaves no idempotency record, so a retry with the same key can still
 * succeed; one that did the work answers every retry with the stored answer. Status inquiries
 * are never faulted: to make the acquirer unreachable, stop the process.
 */
export const DEFAULT_HANG_MS = 60_000;
export const DEFAULT_LATE_ANSWER_MS = 15_000;
const MAX_DELAY_MS = 10 * 60_000;

export const FAULTABLE_OPERATIONS = ['authorize', 'capture', 'void', 'refund', 'settle'] as const;
export type FaultableOperation = (typeof FAULTABLE_OPERATIONS)[number];

const share = z.number().min(0).max(1).optional();
const delay = z.number().int().min(0).max(MAX_DELAY_MS).optional();

export const faultsSchema = z
  .strictObject({
    latencyMs: delay,
    errorRate: share,
    hangRate: share,
    hangMs: delay,
    lostAnswerRate: share,
    lateAnswerRate: share,
    lateAnswerMs: delay,
    /** The operations the knobs apply to; all of them when absent. A reversal counts as `void`. */
    operations: z.array(z.enum(FAULTABLE_OPERATIONS)).min(1).optional(),
    /** Draws from a seeded generator instead of Math.random, so a run's faults can be replayed. */
    seed: z.number().int().optional(),
  })
  .refine((f) => (f.errorRate ?? 0) + (f.hangRate ?? 0) + (f.lostAnswerRate ?? 0) + (f.lateAnswerRate ?? 0) <= 1 + 1e-9, {
    message: 'errorRate + hangRate + lostAnswerRate + lateAnswerRate must be at most 1: they are shares of the same calls',
  });

export type Faults = z.input<typeof faultsSchema>;

export interface EffectiveFaults {
  latencyMs: number;
  errorRate: number;
  hangRate: number;
  hangMs: number;
  lostAnswerRate: number;
  lateAnswerRate: number;
  lateAnswerMs: number;
  operations: FaultableOperation[];
  seed?: number;
}

export type FaultOutcome = 'proceed' | 'error' | 'hang' | 'lose_answer' | 'late_answer';
export type InjectedFault = Exclude<FaultOutcome, 'proceed'>;

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
    lostAnswerRate: f.lostAnswerRate ?? 0,
    lateAnswerRate: f.lateAnswerRate ?? 0,
    lateAnswerMs: f.lateAnswerMs ?? DEFAULT_LATE_ANSWER_MS,
    operations: [...new Set(f.operations ?? FAULTABLE_OPERATIONS)],
    ...(f.seed === undefined ? {} : { seed: f.seed }),
  };
}


function emptyTally(): Record<InjectedFault, number> {
  return { error: 0, hang: 0, lose_answer: 0, late_answer: 0 };
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

  /** How many faults of each mode were injected since the knobs were last set. */
  private injected: Record<InjectedFault, number> = emptyTally();

  current(): EffectiveFaults & { injected: Record<InjectedFault, number> } {
    return { ...this.faults, operations: [...this.faults.operations], injected: { ...this.injected } };
  }

  /** Replaces every knob: an absent knob goes back to its default (PUT semantics). */
  set(faults: Faults): EffectiveFaults & { injected: Record<InjectedFault, number> } {
    this.faults = withDefaults(faults);
    this.random = this.generatorFor(this.faults);
    this.injected = emptyTally();
    return this.current();
  }

  reset(): EffectiveFaults {
    return this.set({});
  }

  /**
   * Decides the fate of one money call, after waiting out the latency and any hang. Calls of
   * operations the knobs do not cover draw nothing, so a seeded run replays for a given mix.
   */
  async inject(operation: FaultableOperation): Promise<FaultOutcome> {
    const { latencyMs, errorRate, hangRate, hangMs, lostAnswerRate, lateAnswerRate, operations } = this.faults;
    if (!operations.includes(operation)) return 'proceed';
    if (latencyMs > 0) await this.sleep(latencyMs);
    const r = this.random();
    let outcome: FaultOutcome = 'proceed';
    if (r < hangRate) outcome = 'hang';
    else if (r < hangRate + errorRate) outcome = 'error';
    else if (r < hangRate + errorRate + lostAnswerRate) outcome = 'lose_answer';
    else if (r < hangRate + errorRate + lostAnswerRate + lateAnswerRate) outcome = 'late_answer';
    if (outcome !== 'proceed') this.injected[outcome] += 1;
    if (outcome === 'hang') await this.sleep(hangMs);
    return outcome;
  }

  /** Holds a late answer back for `lateAnswerMs` (woken early at shutdown). */
  delayAnswer(): Promise<void> {
    return this.sleep(this.faults.lateAnswerMs);
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
