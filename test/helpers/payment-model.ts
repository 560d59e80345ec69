import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { EffectiveFaults, FaultableOperation } from '../../src/acquirer/sandbox/faults';
import type { LedgerEntry } from '../../src/acquirer/sandbox/ledger';
import { paymentIdFor, withinMs } from '../../src/api/payments/payment-service';
import { LedgerReader } from '../../src/ledger/merchant-ledger';
import { PaymentRecords } from '../../src/records/payment-records';
import type { Db } from '../../src/storage/db';
import { openDb } from '../../src/storage/open-db';
import { paymentStateQuery } from '../../src/workflows/payment/definitions';
import type { PaymentState } from '../../src/workflows/payment/state';
import { EncryptionCodec } from '../../src/temporal/payload-codec';
import { ALL_QUEUES, type TaskQueueName } from '../../src/temporal/task-queues';
import { PAYMENT_STATUSES } from '../../src/workflows/payment/lifecycle';
import type { GatewayStack } from './gateway-stack';
import { auditLedger, isFinal, ledgerByPayment, type AuditedPayment, type Violation } from './ledger-audit';
import { ledgerAgainstAcquirer } from './merchant-ledger-audit';
import { decodeHistoryPayloads } from './history-recorder';
import { historyToJSON } from './history-json';
import { ROOT } from './processes';
import { sameJson } from './same-json';
import { TEST_CARDS, TEST_CVCS } from './test-cards';

/**
 * A model-based test of the payment lifecycle under faults (DESIGN.md §4, §4a, §6), shared by
 * test/integration/payment-model.test.ts (CI) and test/soak/payments.soak.ts (`npm run soak`).
 *
 * fast-check generates a scenario: payments (every test card, automatic and manual capture), each
 * with its own command sequence (`fc.commands`: observe, capture full or partial, cancel, review,
 * refunds partial or full, retried with the same key, concurrent pairs, workflow cancellation as
 * the Web UI does it, a retried POST, pauses), a schedule of sandbox faults of every mode (errors,
 * hangs, lost answers, late answers) and a schedule of worker SIGKILLs. The runner keeps a few
 * dozen payments in flight, each running its commands through `fc.asyncModelRun` against the real
 * stack over HTTP, while the fault phases rotate and workers are killed and restarted.
 *
 * Per command the postconditions are loose (under faults the system decides), but every HTTP
 * answer must have an allowed status for its route, come within AUTHORIZATION_WAIT_MS + 5 s, and
 * carry the error shape on 4xx/5xx. Afterwards, with faults off and every payment at rest, the
 * ledger is the truth (ledger-audit.ts) and the model's accepted requests must have been acted on.
 *
 * No card number or CVC is printed: payments are named by their test-card label, and violation
 * details carry payment ids, statuses, amounts and ledger kinds only.
 */

// ---------------------------------------------------------------------------------------------
// What fast-check generates

export type CardName = keyof typeof TEST_CARDS;
const CARD_NAMES = Object.keys(TEST_CARDS) as CardName[];
const APPROVED_CARDS: readonly CardName[] = ['visa', 'mastercard', 'amex', 'discover'];
const ACQUIRER_DECLINES: readonly CardName[] = ['declinedGeneric', 'declinedInsufficientFunds', 'declinedIncorrectCvc', 'declinedExpired'];

/** The sandbox's fault knobs as the spec has them (DESIGN.md §4a); shares of the same calls, summing to at most 1. */
export type SandboxFaults = Omit<EffectiveFaults, 'latencyMs' | 'operations' | 'seed'> & {
  latencyMs?: number;
  operations?: FaultableOperation[];
  seed: number;
};

export interface FaultPhase {
  durationMs: number;
  faults: SandboxFaults;
}

export interface KillEvent {
  /** Wait this long after the previous chaos event. */
  gapMs: number;
  queue: TaskQueueName;
  /** How long the queue stays without its worker before the restart. */
  downMs: number;
}

export interface PaymentPlan {
  card: CardName;
  captureMethod: 'automatic' | 'manual';
  amount: number;
  /** Commands start once the POST is answered, or this many ms after it was sent (while it may still be processing). */
  commandsStart: 'after_answer' | number;
  commands: Iterable<PaymentCommand>;
}

export interface Scenario {
  plans: PaymentPlan[];
  faultPhases: FaultPhase[];
  kills: KillEvent[];
}

const percent = fc.integer({ min: 5, max: 95 });

/**
 * About 30 % of money calls faulted in total (20–40 %), spread over every mode; hangs and late
 * answers sometimes beyond the acquirer client's 10 s timeout; sometimes only some operations.
 */
export const faultsArb: fc.Arbitrary<SandboxFaults> = fc
  .record({
    total: fc.integer({ min: 20, max: 40 }),
    weights: fc.tuple(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 10 })),
    hangMs: fc.integer({ min: 1_000, max: 13_000 }),
    lateAnswerMs: fc.oneof(fc.integer({ min: 500, max: 9_000 }), fc.integer({ min: 10_500, max: 14_000 })),
    latencyMs: fc.integer({ min: 0, max: 80 }),
    // Mostly every money call; now and then only some operations.
    operations: fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: fc.subarray(['authorize', 'capture', 'void', 'refund', 'settle'] as const, { minLength: 2 }), weight: 1 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  })
  .map(({ total, weights, hangMs, lateAnswerMs, latencyMs, operations, seed }) => {
    const sum = weights.reduce((a, b) => a + b, 0);
    const share = (w: number) => Math.floor((total / 100) * (w / sum) * 1000) / 1000;
    return {
      errorRate: share(weights[0]),
      hangRate: share(weights[1]),
      hangMs,
      lostAnswerRate: share(weights[2]),
      lateAnswerRate: share(weights[3]),
      lateAnswerMs,
      latencyMs,
      ...(operations ? { operations: [...operations] } : {}),
      seed,
    };
  });

export const faultPhaseArb: fc.Arbitrary<FaultPhase> = fc.record({ durationMs: fc.integer({ min: 15_000, max: 45_000 }), faults: faultsArb });

export const killArb = (gap: { min: number; max: number }, queues: readonly TaskQueueName[] = ALL_QUEUES): fc.Arbitrary<KillEvent> =>
  fc.record({ gapMs: fc.integer(gap), queue: fc.constantFrom(...queues), downMs: fc.integer({ min: 0, max: 3_000 }) });

const cardArb: fc.Arbitrary<CardName> = fc.oneof(
  { arbitrary: fc.constantFrom(...APPROVED_CARDS), weight: 10 },
  { arbitrary: fc.constantFrom(...CARD_NAMES.filter((c) => !APPROVED_CARDS.includes(c))), weight: 9 },
);

/** Commands for a payment, weighted by what its card and capture method make interesting. */
function commandArbs(card: CardName, captureMethod: 'automatic' | 'manual'): fc.Arbitrary<PaymentCommand>[] {
  const manual = captureMethod === 'manual';
  const review = card === 'fraudReview';
  const refundable = !ACQUIRER_DECLINES.includes(card) && card !== 'fraudBlocklisted';
  const weighted = (n: number, arb: fc.Arbitrary<PaymentCommand>) => Array.from({ length: n }, () => arb);
  return [
    ...weighted(2, fc.integer({ min: 500, max: 8_000 }).map((ms) => new Observe(ms))),
    ...weighted(manual ? 4 : 1, fc.option(percent, { freq: 2 }).map((p) => new Capture(p ?? undefined))),
    ...weighted(manual || review ? 2 : 1, fc.constant(new Cancel())),
    ...weighted(review ? 4 : 1, fc.constantFrom('approve' as const, 'reject' as const).map((d) => new Review(d))),
    ...weighted(
      refundable ? 4 : 1,
      fc.record({ share: fc.option(percent, { freq: 2 }), key: fc.constantFrom('new' as const, 'reuse' as const, 'none' as const) }).map(({ share, key }) => new Refund(share ?? undefined, key)),
    ),
    ...weighted(refundable ? 2 : 0, fc.record({ share: fc.option(percent, { freq: 2 }), sameKey: fc.boolean() }).map(({ share, sameKey }) => new RefundPair(share ?? undefined, sameKey))),
    fc.constant(new WorkflowCancel()),
    fc.constant(new RetryCreate()),
    fc.integer({ min: 0, max: 3_000 }).map((ms) => new Pause(ms)),
  ];
}

export const paymentPlanArb: fc.Arbitrary<PaymentPlan> = fc
  .record({
    card: cardArb,
    captureMethod: fc.constantFrom('automatic' as const, 'manual' as const),
    // Below the fraud rules' review amount (250 000): only the review card goes to review.
    amount: fc.integer({ min: 100, max: 200_000 }),
    commandsStart: fc.oneof({ arbitrary: fc.constant('after_answer' as const), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 1_500 }), weight: 1 }),
  })
  .chain((base) => fc.commands(commandArbs(base.card, base.captureMethod), { maxCommands: 6 }).map((commands) => ({ ...base, commands })));

export function scenarioArb(
  payments: number,
  kills: { count: number; gapMs: { min: number; max: number }; queues?: readonly TaskQueueName[] },
): fc.Arbitrary<Scenario> {
  return fc.record({
    plans: fc.array(paymentPlanArb, { minLength: payments, maxLength: payments }),
    faultPhases: fc.array(faultPhaseArb, { minLength: 1, maxLength: 4 }),
    kills: fc.array(killArb(kills.gapMs, kills.queues), { minLength: kills.count, maxLength: kills.count }),
  });
}

// ---------------------------------------------------------------------------------------------
// The run's context, tallies and violations

export interface ModelOptions {
  merchant: string;
  /** The stack's AUTHORIZATION_WAIT_MS: every answer must come within it + 5 s. */
  authorizationWaitMs: number;
  /** When the stack's daily settlement cutoff next falls (ms since the epoch): captures before it must settle. */
  settlementCutoffAt?: number;
  /** Payments in flight at once. */
  concurrency: number;
  /** After faults are turned off, how long payments get to come to rest. */
  restTimeoutMs: number;
  /** Tags idempotency keys, so two runs against one stack never share a payment. */
  runTag: string;
  log?: (line: string) => void;
}

export class Tally {
  payments = 0;
  notCreated = 0;
  byStatus = new Map<string, number>();
  faults = new Map<string, number>();
  kills = 0;
  killsByQueue = new Map<string, number>();
  serverRestarts = 0;
  workflowCancels = 0;
  requests = 0;
  answers = new Map<string, number>();
  violations: Violation[] = [];
  /** Records compared with their workflow after a command (RecordChecked). */
  recordChecks = 0;
  /** Payments whose ledger postings were matched with the acquirer's books at rest. */
  ledgerChecked = 0;
  /** Answers to overlapping requests that arrived after a newer one (legitimate, counted to show it happens). */
  outOfOrderAnswers = 0;
  /** Faults the sandbox refused (an older sandbox without lost/late answers): noted once. */
  faultKnobsRefused?: string;

  add(map: Map<string, number>, key: string, n = 1): void {
    map.set(key, (map.get(key) ?? 0) + n);
  }

  violate(v: Violation): void {
    this.violations.push(v);
  }

  violationsByRule(): Map<string, Violation[]> {
    const byRule = new Map<string, Violation[]>();
    for (const v of this.violations) byRule.set(v.rule, [...(byRule.get(v.rule) ?? []), v]);
    return byRule;
  }

  /** The one-line summary the test and the soak print. */
  line(label: string): string {
    const obj = (m: Map<string, number>) => JSON.stringify(Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b))));
    const rules = Object.fromEntries([...this.violationsByRule()].map(([rule, vs]) => [rule, vs.length]));
    return (
      `${label}: ${this.payments} payments (${this.notCreated} never created) by status ${obj(this.byStatus)}; ` +
      `faults injected ${obj(this.faults)}${this.faultKnobsRefused ? ` (sandbox refused the spec's knobs, ran with ${this.faultKnobsRefused})` : ''}; ` +
      `kills ${this.kills} ${obj(this.killsByQueue)}; server restarts ${this.serverRestarts}; workflow cancels ${this.workflowCancels}; ` +
      `requests ${this.requests} (${this.outOfOrderAnswers} answers of overlapping requests out of order); records checked ${this.recordChecks}; ledgers matched with the acquirer ${this.ledgerChecked}; violations ${this.violations.length} ${JSON.stringify(rules)}`
    );
  }

  /** Up to `perRule` examples of each broken rule, one a line. */
  examples(perRule = 3): string[] {
    const lines: string[] = [];
    for (const [rule, vs] of this.violationsByRule()) {
      lines.push(`  ${rule} (${vs.length}):`);
      for (const v of vs.slice(0, perRule)) lines.push(`    ${v.payment ?? '-'} ${v.detail.slice(0, 600)}`);
    }
    return lines;
  }

  answersLine(): string {
    return `answers ${JSON.stringify(Object.fromEntries([...this.answers].sort(([a], [b]) => a.localeCompare(b))))}`;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP: every answer checked for status, time and shape

/** What each route may answer (the spec); 503 is "unavailable, retry" with the error shape, allowed everywhere. */
const ALLOWED: Record<string, readonly number[]> = {
  create: [200, 201, 202, 503],
  get: [200, 503],
  /** Whether a payment whose POST got no answer exists after all. */
  probe: [200, 404, 503],
  capture: [200, 202, 409, 503],
  cancel: [200, 202, 409, 503],
  review: [200, 202, 409, 503],
  refund: [200, 201, 202, 409, 503],
};
type Route = keyof typeof ALLOWED;

/** The refusals each action may answer with (409): anything else is a leak of some inner error. */
const REFUSALS: Partial<Record<Route, readonly string[]>> = {
  capture: ['payment_not_capturable', 'amount_exceeds_capturable', 'payment_closed'],
  cancel: ['payment_not_cancelable', 'payment_closed'],
  review: ['payment_not_in_review', 'payment_closed'],
  refund: ['refund_in_progress', 'amount_exceeds_refundable', 'payment_not_refundable', 'refund_window_closed', 'payment_closed'],
};

/** Grace beyond the allowed answer time before the client gives up on a request altogether. */
const CLIENT_GRACE_MS = 15_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field
export type Body = any;
export interface Answer {
  /** 0: no answer (connection failed or the client gave up). */
  status: number;
  body: Body;
  ms: number;
  /** When the request left and its answer arrived (ms since the epoch): what an answer may show depends on both. */
  sentAt: number;
  receivedAt: number;
}

export class Api {
  private tokens = new Map<string, { token: string; at: number }>();

  constructor(
    private readonly gateway: GatewayStack,
    private readonly options: ModelOptions,
    private readonly tally: Tally,
  ) {}

  get limitMs(): number {
    return this.options.authorizationWaitMs + 5_000;
  }

  private async token(kind: 'merchant' | 'operator'): Promise<string> {
    const cached = this.tokens.get(kind);
    if (cached && Date.now() - cached.at < 30 * 60_000) return cached.token;
    const token =
      kind === 'operator'
        ? await this.gateway.token('model-operator', ['ops'])
        : await this.gateway.token(this.options.merchant, ['payments:write', 'payments:read', 'refunds:write']);
    this.tokens.set(kind, { token, at: Date.now() });
    return token;
  }

  /** One request; a broken rule becomes a violation of `payment`, never an exception. */
  /** `mayNotExistYet`: the payment's POST is still in flight, so 404 payment_not_found is a true answer. */
  async send(
    route: Route,
    method: string,
    path: string,
    payment: string,
    options: { operator?: boolean; body?: unknown; headers?: Record<string, string>; mayNotExistYet?: boolean } = {},
  ): Promise<Answer> {
    const t0 = Date.now();
    let status = 0;
    let body: Body = undefined;
    let failure = '';
    try {
      const response = await fetch(`${this.gateway.apiUrl}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${await this.token(options.operator ? 'operator' : 'merchant')}`,
          ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...options.headers,
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(this.limitMs + CLIENT_GRACE_MS),
      });
      status = response.status;
      const text = await response.text();
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    } catch (err) {
      failure = (err as Error).name === 'TimeoutError' ? `no answer within ${this.limitMs + CLIENT_GRACE_MS} ms` : `request failed: ${(err as Error).message}`;
    }
    const ms = Date.now() - t0;
    this.tally.requests += 1;
    const code = typeof body?.error?.code === 'string' ? ` ${body.error.code}` : '';
    this.tally.add(this.tally.answers, `${route} ${status}${status >= 400 ? code : ''}`);
    const what = `${method} ${path.replace(payment, ':id')}`;
    if (status === 0) {
      this.tally.violate({ rule: 'http_no_answer', payment, detail: `${what}: ${failure}` });
    } else {
      const notYet = options.mayNotExistYet && status === 404 && body?.error?.code === 'payment_not_found';
      if (!ALLOWED[route]!.includes(status) && !notYet) this.tally.violate({ rule: 'http_status_not_allowed', payment, detail: `${what} answered ${status}${code}` });
      if (status === 409 && REFUSALS[route] && !REFUSALS[route].includes(body?.error?.code)) {
        this.tally.violate({ rule: 'http_refusal_code_unexpected', payment, detail: `${what} answered 409${code}` });
      }
      if (status >= 400 && !(typeof body?.error?.type === 'string' && typeof body.error.code === 'string' && typeof body.error.message === 'string')) {
        this.tally.violate({ rule: 'http_error_shape', payment, detail: `${what} answered ${status} without {error:{type,code,message}}` });
      }
      if (status < 300 && route !== 'refund' && !isPaymentBody(body)) this.tally.violate({ rule: 'http_payment_shape', payment, detail: `${what} answered ${status} with no payment (id, status)` });
      if (status < 300 && route === 'refund' && !isRefundBody(body)) this.tally.violate({ rule: 'http_refund_shape', payment, detail: `${what} answered ${status} with no refund (id, amount, status)` });
    }
    if (ms > this.limitMs) this.tally.violate({ rule: 'http_answer_too_slow', payment, detail: `${what} took ${ms} ms (limit ${this.limitMs})${status ? `, answered ${status}${code}` : ''}` });
    return { status, body, ms, sentAt: t0, receivedAt: t0 + ms };
  }
}

const isPaymentBody = (b: Body) => typeof b?.id === 'string' && (PAYMENT_STATUSES as readonly string[]).includes(b.status);
const isRefundBody = (b: Body) => typeof b?.id === 'string' && Number.isInteger(b.amount) && ['pending', 'succeeded', 'failed'].includes(b.status);

// ---------------------------------------------------------------------------------------------
// The model of one payment, and the real system it is run against

/** Once a payment is here nothing changes it (settled and partially refunded can still be refunded). */
const TERMINAL = ['declined', 'canceled', 'failed', 'reversed', 'refunded'];

interface RefundSeen {
  amount: number;
  statuses: Set<string>;
  /** When the first answer showing it succeeded arrived. */
  succeededShownAt?: number;
}

export interface PaymentModel {
  index: number;
  plan: PaymentPlan;
  key: string;
  id: string;
  /** Some POST answered 2xx: the payment exists. */
  created: boolean;
  status?: string;
  terminal?: string;
  /** When the first answer showing `terminal` arrived: a request sent after that must show it too. */
  terminalShownAt?: number;
  view?: Body;
  acceptedCapture?: { amount?: number };
  acceptedCancel: boolean;
  acceptedReview?: 'approve' | 'reject';
  workflowCanceled: boolean;
  /** Refund idempotency keys used, with the refund each was answered with (if any). */
  refundKeys: { key: string; amount?: number; refundId?: string }[];
  /** Every refund any answer showed, with the statuses it was shown in. */
  refundsSeen: Map<string, RefundSeen>;
  /** The commands run and their answers, for violation reports. */
  trail: string[];
}

export interface PaymentReal {
  api: Api;
  gateway: GatewayStack;
  /** The payment records the records worker writes, read behind the API's back. */
  records: PaymentRecords;
  /** The merchant ledger the records worker posts (src/ledger), read behind the API's back. */
  ledger: LedgerReader;
  tally: Tally;
  options: ModelOptions;
}

export type PaymentCommand = fc.AsyncCommand<PaymentModel, PaymentReal>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function cardBody(card: CardName) {
  const number = TEST_CARDS[card];
  return { number, exp_month: 12, exp_year: 2030, cvc: number.startsWith('37') ? TEST_CVCS[1] : TEST_CVCS[0] };
}

function createBody(plan: PaymentPlan) {
  return { amount: plan.amount, currency: 'EUR', capture_method: plan.captureMethod, card: cardBody(plan.card) };
}

/**
 * Takes in what an answer showed of the payment, checking what must hold whatever the faults.
 * `mayBeStale`: the answer to a POST that ran beside other commands shows the payment as it was
 * when it was decided, possibly before what a later GET already saw; it does not move the model.
 *
 * Reads must never go back in time: a request *sent after* an answer showed a final status (or a
 * refund succeeded) must show it too. Two requests that overlapped may be answered in either order
 * (one read the payment before the other changed it); such an answer is counted as out of order,
 * not as a violation, and does not move the model.
 */
export function observe(m: PaymentModel, r: PaymentReal, answer: Answer, mayBeStale = false): void {
  const view = answer.body;
  if (!isPaymentBody(view) || view.id !== m.id) return;
  if (mayBeStale && m.status !== undefined) return;
  const problem = (rule: string, detail: string) => r.tally.violate({ rule, payment: m.id, detail: `${detail}; ${m.trail.join(' > ')}` });
  if (m.terminal && view.status !== m.terminal) {
    if (answer.sentAt > m.terminalShownAt!) {
      problem('terminal_status_changed', `was ${m.terminal} (shown at ${m.terminalShownAt}), now ${view.status} (asked at ${answer.sentAt})`);
    } else {
      r.tally.outOfOrderAnswers += 1;
      return;
    }
  }
  if (!m.terminal && TERMINAL.includes(view.status)) {
    m.terminal = view.status;
    m.terminalShownAt = answer.receivedAt;
  }
  if (typeof view.amount_captured === 'number' && typeof view.amount_refunded === 'number') {
    if (view.amount_captured > m.plan.amount || view.amount_refunded > view.amount_captured || view.amount_refunded < 0) {
      problem('amounts_inconsistent', `amount ${m.plan.amount}, captured ${view.amount_captured}, refunded ${view.amount_refunded}`);
    }
  }
  for (const refund of Array.isArray(view.refunds) ? (view.refunds as Body[]) : []) seeRefund(m, r, refund, answer);
  m.status = view.status;
  m.view = view;
}

function seeRefund(m: PaymentModel, r: PaymentReal, refund: Body, answer: Answer): void {
  if (!isRefundBody(refund)) return;
  const seen: RefundSeen = m.refundsSeen.get(refund.id) ?? { amount: refund.amount, statuses: new Set<string>() };
  if (seen.amount !== refund.amount) r.tally.violate({ rule: 'refund_amount_changed', payment: m.id, detail: `refund ${refund.id} shown as ${seen.amount}, then ${refund.amount}` });
  if (seen.succeededShownAt !== undefined && refund.status !== 'succeeded') {
    if (answer.sentAt > seen.succeededShownAt) {
      r.tally.violate({ rule: 'refund_status_went_back', payment: m.id, detail: `refund ${refund.id} succeeded (shown at ${seen.succeededShownAt}), then ${refund.status} (asked at ${answer.sentAt})` });
    } else {
      r.tally.outOfOrderAnswers += 1;
    }
  }
  if (refund.status === 'succeeded') seen.succeededShownAt = Math.min(seen.succeededShownAt ?? Infinity, answer.receivedAt);
  seen.statuses.add(refund.status);
  m.refundsSeen.set(refund.id, seen);
}

/** Nothing has shown the payment yet: its POST may still be on its way. */
const notYetCreated = (m: PaymentModel) => !m.created && m.status === undefined;

async function getPayment(m: PaymentModel, r: PaymentReal): Promise<Answer> {
  const answer = await r.api.send('get', 'GET', `/v1/payments/${m.id}`, m.id, { mayNotExistYet: notYetCreated(m) });
  if (answer.status === 200) observe(m, r, answer);
  return answer;
}

async function createPayment(m: PaymentModel, r: PaymentReal, label: string): Promise<Answer> {
  const answer = await r.api.send('create', 'POST', '/v1/payments', m.id, { headers: { 'Idempotency-Key': m.key }, body: createBody(m.plan) });
  m.trail.push(`${label}:${answer.status}`);
  if (answer.status >= 200 && answer.status < 300) {
    if (answer.body?.id !== m.id) r.tally.violate({ rule: 'create_answered_another_payment', payment: m.id, detail: `answered ${answer.body?.id}` });
    m.created = true;
    observe(m, r, answer, true);
  }
  return answer;
}

abstract class Base implements PaymentCommand {
  check(): boolean {
    return true;
  }
  abstract run(m: PaymentModel, r: PaymentReal): Promise<void>;
  abstract toString(): string;
}

/** Polls the payment until its status changes or `waitMs` passes. */
export class Observe extends Base {
  constructor(readonly waitMs: number) {
    super();
  }
  async run(m: PaymentModel, r: PaymentReal) {
    const until = Date.now() + this.waitMs;
    const first = (await getPayment(m, r)).body?.status;
    for (let i = 0; i < 30 && Date.now() < until; i++) {
      await sleep(Math.min(700, Math.max(0, until - Date.now())));
      const answer = await getPayment(m, r);
      if (answer.status === 200 && answer.body.status !== first) break;
    }
    m.trail.push(`observe:${m.status}`);
  }
  toString() {
    return `observe(${this.waitMs})`;
  }
}

/** The merchant's action answered 200: it must be done, not still waiting. */
function checkDone(m: PaymentModel, r: PaymentReal, action: string, answer: Answer, notDone: readonly string[]) {
  if (answer.status === 200 && notDone.includes(answer.body?.status)) {
    r.tally.violate({ rule: 'action_200_not_done', payment: m.id, detail: `${action} answered 200 with the payment ${answer.body.status}` });
  }
}

export class Capture extends Base {
  constructor(readonly percent?: number) {
    super();
  }
  async run(m: PaymentModel, r: PaymentReal) {
    const amount = this.percent === undefined ? undefined : Math.max(1, Math.floor((m.plan.amount * this.percent) / 100));
    const answer = await r.api.send('capture', 'POST', `/v1/payments/${m.id}/capture`, m.id, { mayNotExistYet: notYetCreated(m), body: amount === undefined ? {} : { amount } });
    m.trail.push(`capture(${amount ?? 'full'}):${answer.status}${answer.status === 409 ? ` ${answer.body?.error?.code}` : ''}`);
    if (answer.status === 200 || answer.status === 202) {
      m.acceptedCapture = amount === undefined ? {} : { amount };
      observe(m, r, answer);
      checkDone(m, r, 'capture', answer, ['processing', 'requires_capture']);
    }
  }
  toString() {
    return `capture(${this.percent ?? 'full'})`;
  }
}

export class Cancel extends Base {
  async run(m: PaymentModel, r: PaymentReal) {
    const answer = await r.api.send('cancel', 'POST', `/v1/payments/${m.id}/cancel`, m.id, { mayNotExistYet: notYetCreated(m), body: { reason: 'model test' } });
    m.trail.push(`cancel:${answer.status}${answer.status === 409 ? ` ${answer.body?.error?.code}` : ''}`);
    if (answer.status === 200 || answer.status === 202) {
      m.acceptedCancel = true;
      observe(m, r, answer);
      checkDone(m, r, 'cancel', answer, ['processing', 'requires_review', 'requires_capture']);
    }
  }
  toString() {
    return 'cancel';
  }
}

export class Review extends Base {
  constructor(readonly decision: 'approve' | 'reject') {
    super();
  }
  async run(m: PaymentModel, r: PaymentReal) {
    const answer = await r.api.send('review', 'POST', `/v1/payments/${m.id}/review`, m.id, { mayNotExistYet: notYetCreated(m), operator: true, body: { decision: this.decision } });
    m.trail.push(`review(${this.decision}):${answer.status}${answer.status === 409 ? ` ${answer.body?.error?.code}` : ''}`);
    if (answer.status === 200 || answer.status === 202) {
      m.acceptedReview = this.decision;
      observe(m, r, answer);
      checkDone(m, r, 'review', answer, ['requires_review']);
    }
  }
  toString() {
    return `review(${this.decision})`;
  }
}

async function refundOnce(m: PaymentModel, r: PaymentReal, amount: number | undefined, key: string | undefined, label: string): Promise<Answer> {
  const answer = await r.api.send('refund', 'POST', `/v1/payments/${m.id}/refunds`, m.id, {
    mayNotExistYet: notYetCreated(m),
    body: amount === undefined ? {} : { amount },
    ...(key ? { headers: { 'Idempotency-Key': key } } : {}),
  });
  m.trail.push(`${label}(${amount ?? 'rest'}${key ? ` ${key.slice(-4)}` : ''}):${answer.status}${answer.status === 409 ? ` ${answer.body?.error?.code}` : ''}`);
  if (answer.status >= 200 && answer.status < 300 && isRefundBody(answer.body)) {
    seeRefund(m, r, answer.body, answer);
    if (amount !== undefined && answer.body.amount !== amount) {
      r.tally.violate({ rule: 'refund_amount_not_requested', payment: m.id, detail: `asked ${amount}, refund ${answer.body.id} is ${answer.body.amount}` });
    }
    if (key) {
      const earlier = m.refundKeys.find((k) => k.key === key && k.refundId !== undefined);
      if (earlier && earlier.refundId !== answer.body.id) {
        r.tally.violate({ rule: 'refund_key_answered_another_refund', payment: m.id, detail: `key answered ${earlier.refundId}, then ${answer.body.id}` });
      }
      const entry = m.refundKeys.find((k) => k.key === key);
      if (entry && entry.refundId === undefined) entry.refundId = answer.body.id;
    }
  }
  return answer;
}

/** The amount a refund asks for: a share of the payment, or (undefined) the rest. */
const refundAmount = (m: PaymentModel, percent: number | undefined) => (percent === undefined ? undefined : Math.max(1, Math.floor((m.plan.amount * percent) / 200)));

export class Refund extends Base {
  constructor(
    readonly percent: number | undefined,
    readonly key: 'new' | 'reuse' | 'none',
  ) {
    super();
  }
  async run(m: PaymentModel, r: PaymentReal) {
    let key: string | undefined;
    let amount = refundAmount(m, this.percent);
    const last = m.refundKeys[m.refundKeys.length - 1];
    if (this.key === 'reuse' && last) {
      // The same request again, byte for byte: it must be the same refund, never a second payout.
      key = last.key;
      amount = last.amount;
    } else if (this.key !== 'none') {
      key = `${m.key}-refund-${m.refundKeys.length}`;
      m.refundKeys.push({ key, ...(amount !== undefined ? { amount } : {}) });
    }
    const answer = await refundOnce(m, r, amount, key, this.key === 'reuse' && last ? 'refund-again' : 'refund');
    if (this.key === 'reuse' && last?.refundId && answer.status === 409) {
      r.tally.violate({ rule: 'refund_retry_refused', payment: m.id, detail: `the same refund request again answered 409 ${answer.body?.error?.code}` });
    }
  }
  toString() {
    return `refund(${this.percent ?? 'rest'}, ${this.key})`;
  }
}

/** Two refunds at once: with one key they are one refund; with two, never more than captured (checked at rest). */
export class RefundPair extends Base {
  constructor(
    readonly percent: number | undefined,
    readonly sameKey: boolean,
  ) {
    super();
  }
  async run(m: PaymentModel, r: PaymentReal) {
    const amount = refundAmount(m, this.percent);
    const keys = [`${m.key}-refund-${m.refundKeys.length}`, this.sameKey ? `${m.key}-refund-${m.refundKeys.length}` : `${m.key}-refund-${m.refundKeys.length + 1}`];
    for (const key of new Set(keys)) m.refundKeys.push({ key, ...(amount !== undefined ? { amount } : {}) });
    const answers = await Promise.all(keys.map((key) => refundOnce(m, r, amount, key, this.sameKey ? 'refund-pair-same' : 'refund-pair')));
    const ids = answers.filter((a) => a.status >= 200 && a.status < 300).map((a) => a.body?.id as string);
    if (this.sameKey && ids.length === 2 && ids[0] !== ids[1]) {
      r.tally.violate({ rule: 'refund_key_answered_another_refund', payment: m.id, detail: `one key, two concurrent requests, refunds ${ids.join(' and ')}` });
    }
  }
  toString() {
    return `refund-pair(${this.percent ?? 'rest'}, ${this.sameKey ? 'same key' : 'two keys'})`;
  }
}

/** Cancellation as the Web UI does it: a cancel request to the workflow itself, past the API. */
export class WorkflowCancel extends Base {
  async run(m: PaymentModel, r: PaymentReal) {
    try {
      await r.gateway.stack.client.workflow.getHandle(m.id).cancel();
      m.workflowCanceled = true;
      r.tally.workflowCancels += 1;
      m.trail.push('workflow-cancel');
    } catch (err) {
      // Not started (its POST never got through) or already closed: nothing to cancel.
      m.trail.push(`workflow-cancel:${(err as Error).name}`);
    }
  }
  toString() {
    return 'workflow-cancel';
  }
}

/** The merchant's POST again with the same key and body: the same payment, never a second one. */
export class RetryCreate extends Base {
  async run(m: PaymentModel, r: PaymentReal) {
    await createPayment(m, r, 'create-again');
  }
  toString() {
    return 'create-again';
  }
}

export class Pause extends Base {
  constructor(readonly ms: number) {
    super();
  }
  async run(m: PaymentModel) {
    await sleep(this.ms);
    m.trail.push(`pause(${this.ms})`);
  }
  toString() {
    return `pause(${this.ms})`;
  }
}

// ---------------------------------------------------------------------------------------------
// The runner

export interface RunControl {
  /** Stop starting new payments after this moment (ms since the epoch). */
  startUntil?: number;
  /** Restart the Temporal dev server once, when this many payments have started (needs a persistent stack). */
  serverRestartAfterPayments?: number;
  /** Print progress every so often. */
  progressEveryMs?: number;
}

/**
 * Runs `scenario` against `gateway`: the payments `options.concurrency` at a time, the fault phases
 * in a loop, the kills in a loop, until every payment's commands ran; then faults off, rest, audit.
 * Adds to `tally` and returns the payments' models.
 */
export async function runScenario(gateway: GatewayStack, scenario: Scenario, options: ModelOptions, tally: Tally, knownPaymentIds: Set<string>, control: RunControl = {}): Promise<PaymentModel[]> {
  const log = options.log ?? (() => undefined);
  const api = new Api(gateway, options, tally);
  const db: Db = await openDb({ databaseUrl: gateway.stack.env.DATABASE_URL, dataDir: gateway.stack.dataDir });
  const real: PaymentReal = { api, gateway, tally, options, records: new PaymentRecords(db, 86_400_000), ledger: new LedgerReader(db) };
  const faultCounter = new FaultCounter(gateway, tally);
  const started = Date.now();
  let done = false;
  let startedPayments = 0;
  /** Sleeps up to `ms`, waking early once the payments are done. */
  const nap = async (ms: number) => {
    const until = Date.now() + ms;
    while (!done && Date.now() < until) await sleep(Math.min(500, until - Date.now()));
  };

  const faultsLoop = (async () => {
    for (let i = 0; !done; i++) {
      const phase = scenario.faultPhases[i % scenario.faultPhases.length]!;
      await faultCounter.set(phase.faults);
      await nap(phase.durationMs);
    }
  })();

  // Kills and the server restart take turns: a worker never starts while the server is down.
  let chaosTurn: Promise<unknown> = Promise.resolve();
  const exclusive = (work: () => Promise<void>): Promise<void> => {
    const turn = chaosTurn.then(work);
    chaosTurn = turn.catch(() => undefined);
    return turn;
  };
  const killLoop = (async () => {
    for (let i = 0; !done && scenario.kills.length > 0; i++) {
      const kill = scenario.kills[i % scenario.kills.length]!;
      await nap(kill.gapMs);
      if (done) break;
      await exclusive(() => killWorker(gateway, kill.queue, kill.downMs, tally));
    }
  })();
  const restartLoop = (async () => {
    if (control.serverRestartAfterPayments === undefined) return;
    while (!done && startedPayments < control.serverRestartAfterPayments) await sleep(250);
    if (done) return;
    await exclusive(async () => {
      log(`restarting the Temporal dev server (${startedPayments} payments started)`);
      try {
        await gateway.stack.restartServer();
        tally.serverRestarts += 1;
      } catch (err) {
        tally.violate({ rule: 'server_restart_failed', detail: (err as Error).message.slice(0, 500) });
      }
    });
  })();

  const progress = control.progressEveryMs
    ? setInterval(() => log(`progress: ${startedPayments}/${scenario.plans.length} started, ${tally.violations.length} violations, ${((Date.now() - started) / 1000).toFixed(0)} s`), control.progressEveryMs)
    : undefined;

  const models: PaymentModel[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(options.concurrency, scenario.plans.length) }, async () => {
        while (next < scenario.plans.length && (control.startUntil === undefined || Date.now() < control.startUntil)) {
          const index = next++;
          const plan = scenario.plans[index]!;
          const key = `model-${options.runTag}-${index}`;
          const model: PaymentModel = {
            index,
            plan,
            key,
            id: paymentIdFor(options.merchant, key),
            created: false,
            acceptedCancel: false,
            workflowCanceled: false,
            refundKeys: [],
            refundsSeen: new Map(),
            trail: [`${plan.card}/${plan.captureMethod}/${plan.amount}`],
          };
          models.push(model);
          knownPaymentIds.add(model.id);
          startedPayments += 1;
          await runPayment(model, real);
        }
      }),
    );
  } finally {
    done = true;
    if (progress) clearInterval(progress);
    await Promise.all([faultsLoop, killLoop, restartLoop]);
  }
  // Every worker up again (a kill may have been the last thing that happened), faults off.
  await faultCounter.set({});
  await faultCounter.read();
  log(`${models.length} payments ran in ${((Date.now() - started) / 1000).toFixed(0)} s; faults off, waiting for rest`);

  // A payment whose every POST went unanswered may exist all the same: find out.
  for (const m of models.filter((x) => !x.created)) {
    const answer = await api.send('probe', 'GET', `/v1/payments/${m.id}`, m.id);
    if (answer.status === 200) {
      m.created = true;
      observe(m, real, answer);
    }
  }
  await waitForRest(models, real);
  await audit(models, real, knownPaymentIds);
  for (const m of models) {
    tally.payments += 1;
    if (!m.created) tally.notCreated += 1;
    tally.add(tally.byStatus, m.created ? (m.status ?? 'unread') : 'never_created');
  }
  await db.close();
  return models;
}

/**
 * A command, then the payment's record checked against its workflow: never ahead of it (read the
 * record first, then the workflow: the workflow can only have moved on), and its timeline a prefix
 * of the workflow's. Skipped while the workflow cannot be read (a worker is down).
 */
class RecordChecked implements PaymentCommand {
  constructor(private readonly inner: PaymentCommand) {}
  check(m: Readonly<PaymentModel>): boolean {
    return this.inner.check(m);
  }
  async run(m: PaymentModel, r: PaymentReal): Promise<void> {
    await this.inner.run(m, r);
    if (!m.created) return;
    const record = await r.records.get(m.id);
    const state = await withinMs(r.gateway.stack.client.workflow.getHandle(m.id).query(paymentStateQuery) as Promise<PaymentState>, 3_000).catch(() => undefined);
    if (!record || !state) return;
    r.tally.recordChecks += 1;
    const recorded = record.state.timeline.length;
    if (recorded > state.timeline.length) {
      r.tally.violate({ rule: 'record_ahead_of_workflow', payment: m.id, detail: `record with ${recorded} timeline entries, workflow with ${state.timeline.length}; ${m.trail.join(' > ')}` });
    } else if (!sameJson(record.state.timeline, state.timeline.slice(0, recorded))) {
      r.tally.violate({ rule: 'record_timeline_not_workflow', payment: m.id, detail: `the record's timeline is not the workflow's first ${recorded} entries; ${m.trail.join(' > ')}` });
    }
  }
  toString(): string {
    return this.inner.toString();
  }
}

async function runPayment(m: PaymentModel, r: PaymentReal): Promise<void> {
  const created = createPayment(m, r, 'create');
  if (m.plan.commandsStart === 'after_answer') await created;
  else await sleep(m.plan.commandsStart);
  try {
    await fc.asyncModelRun(() => ({ model: m, real: r }), [...m.plan.commands].map((c) => new RecordChecked(c)));
  } catch (err) {
    r.tally.violate({ rule: 'model_error', payment: m.id, detail: (err as Error).stack?.slice(0, 800) ?? String(err) });
  }
  await created;
}

async function killWorker(gateway: GatewayStack, queue: TaskQueueName, downMs: number, tally: Tally): Promise<void> {
  const worker = gateway.stack.workers.get(queue);
  if (worker) {
    await worker.stop('SIGKILL');
    tally.kills += 1;
    tally.add(tally.killsByQueue, queue);
  }
  await sleep(downMs);
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await gateway.stack.startWorker(queue);
      return;
    } catch (err) {
      if (attempt === 3) tally.violate({ rule: 'worker_restart_failed', detail: `${queue}: ${(err as Error).message.slice(0, 300)}` });
      await sleep(2_000);
    }
  }
}

/**
 * Sets the sandbox's faults and counts what it injected. The sandbox of the spec reports counts in
 * GET /_sandbox/faults (`injected`); one without them is counted from its log lines. A sandbox
 * that refuses the spec's knobs (lost and late answers) runs with the nearest it has, and says so.
 */
class FaultCounter {
  private last: Record<string, number> = {};
  private legacy = false;

  constructor(
    private readonly gateway: GatewayStack,
    private readonly tally: Tally,
  ) {}

  async read(): Promise<void> {
    try {
      const response = await fetch(`${this.gateway.sandbox.url}/_sandbox/faults`, { signal: AbortSignal.timeout(5_000) });
      const injected = ((await response.json()) as { injected?: Record<string, number> }).injected;
      if (!injected) return this.readLog();
      for (const [mode, count] of Object.entries(injected)) {
        const previous = this.last[mode] ?? 0;
        // Counters that went down were reset by the PUT: all of the new count is new.
        this.tally.add(this.tally.faults, mode, count >= previous ? count - previous : count);
        this.last[mode] = count;
      }
    } catch {
      // counted at the next read
    }
  }

  private logOffset = 0;
  private readLog(): void {
    const text = fs.readFileSync(this.gateway.sandbox.process.logFile, 'utf8');
    for (const line of text.slice(this.logOffset).split('\n')) {
      const mode = /"fault":"(\w+)"/.exec(line)?.[1];
      if (mode) this.tally.add(this.tally.faults, mode);
    }
    this.logOffset = text.length;
  }

  async set(faults: Partial<SandboxFaults>): Promise<void> {
    await this.read();
    const body = this.legacy ? legacyFaults(faults) : faults;
    let response = await this.put(body);
    if (response.status === 400 && !this.legacy && Object.keys(faults).length > 0) {
      this.legacy = true;
      const legacy = legacyFaults(faults);
      this.tally.faultKnobsRefused = 'errorRate = error + lost shares, hangRate = hang + late shares';
      this.tally.violate({ rule: 'sandbox_refused_fault_knobs', detail: `PUT /_sandbox/faults with the spec's knobs answered 400: ${(await response.text()).slice(0, 300)}` });
      response = await this.put(legacy);
    }
    if (response.status !== 200) this.tally.violate({ rule: 'sandbox_faults_not_set', detail: `PUT /_sandbox/faults answered ${response.status}` });
  }

  private put(body: unknown): Promise<Response> {
    return fetch(`${this.gateway.sandbox.url}/_sandbox/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
  }
}

/** The nearest a sandbox without lost and late answers has: a lost answer fails, a late one hangs. */
function legacyFaults(f: Partial<SandboxFaults>): Record<string, number> {
  if (f.errorRate === undefined) return {};
  return {
    errorRate: Math.round(((f.errorRate ?? 0) + (f.lostAnswerRate ?? 0)) * 1000) / 1000,
    hangRate: Math.round(((f.hangRate ?? 0) + (f.lateAnswerRate ?? 0)) * 1000) / 1000,
    hangMs: f.hangMs ?? 12_000,
    ...(f.latencyMs !== undefined ? { latencyMs: f.latencyMs } : {}),
    ...(f.seed !== undefined ? { seed: f.seed } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Rest and audit

const timeOf = (view: Body, event: string): number | undefined => {
  const entry = Array.isArray(view?.timeline) ? (view.timeline as { at: string; event: string }[]).find((t) => t.event === event) : undefined;
  return entry ? Date.parse(entry.at) : undefined;
};

/** How far ahead a settlement cutoff must be for a captured payment waiting for it to count as at rest. */
const CUTOFF_REST_MARGIN_MS = 45_000;

/** Why the payment is not at rest yet, or undefined when it is. */
function unrest(m: PaymentModel, view: Body, options: ModelOptions, workflow: WorkflowNow): string | undefined {
  const status: string = view.status;
  const closed = workflow.closed;
  if (workflow.activities.length > 0) return `activities still running: ${workflow.activities.join(', ')}`;
  if (view.awaiting_acquirer) return `awaiting the acquirer: ${JSON.stringify(view.awaiting_acquirer)}`;
  if (Array.isArray(view.refunds) && (view.refunds as Body[]).some((r) => r.status === 'pending')) return 'a refund is pending';
  if (m.workflowCanceled && !closed && !isFinal(status)) return `workflow cancel requested, still ${status}`;
  if (isFinal(status)) return undefined;
  if (status === 'requires_capture' && !m.acceptedCapture && !m.acceptedCancel && !closed) return undefined;
  if (status === 'requires_review' && !m.acceptedReview && !m.acceptedCancel && !closed) return undefined;
  if (status === 'captured' && !closed) {
    const capturedAt = timeOf(view, 'payment.captured') ?? Date.now();
    // Waiting for the settlement cutoff, unless the cutoff it waited for has passed — or is so close
    // that it would pass while the ledger is compared: then the settlement (or, with the
    // settlement-fails card, the reversal) is waited for. A run once ended its rest 4 s before the
    // cutoff, and the reversal that followed was read in the ledger but not on the payment.
    const cutoff = options.settlementCutoffAt;
    if (cutoff === undefined || capturedAt > cutoff || Date.now() < cutoff - CUTOFF_REST_MARGIN_MS) return undefined;
    return Date.now() < cutoff ? 'captured, and the settlement cutoff is about to pass' : 'captured before the settlement cutoff, which has passed, and not settled';
  }
  return `${status}${closed ? ' (workflow closed)' : ''}`;
}

interface WorkflowNow {
  closed: boolean;
  /** Pending activities, "name attempt n". */
  activities: string[];
}

async function describeWorkflow(r: PaymentReal, id: string): Promise<WorkflowNow> {
  try {
    const d = await r.gateway.stack.client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: id } });
    return {
      closed: d.workflowExecutionInfo?.status !== 1, // WORKFLOW_EXECUTION_STATUS_RUNNING
      activities: (d.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt}`),
    };
  } catch {
    return { closed: false, activities: ['(the workflow could not be described)'] };
  }
}

/**
 * Polls every payment (8 at a time) until each is at rest, or `restTimeoutMs` passes. Then one
 * more round reads them all again, and the wait goes on until a round finds every one at rest:
 * the audit compares the ledger with these last reads, and a payment at rest when first read
 * may have moved while the others were waited for. A run once read a settlement-fails payment
 * at rest 47 s before the cutoff, waited a minute for the others, and found its reversal in
 * the ledger but not in the read.
 */
async function waitForRest(models: PaymentModel[], r: PaymentReal): Promise<void> {
  const deadline = Date.now() + r.options.restTimeoutMs;
  const all = models.filter((m) => m.created || m.status !== undefined);
  let pending = all;
  let confirming = false;
  const restless = new Map<PaymentModel, string>();
  for (let round = 0; pending.length > 0 && round < 1_000; round++) {
    const still: PaymentModel[] = [];
    let i = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (i < pending.length) {
          const m = pending[i++]!;
          const answer = await getPayment(m, r);
          const why = answer.status === 200 ? unrest(m, answer.body, r.options, await describeWorkflow(r, m.id)) : `GET answered ${answer.status}`;
          if (why) {
            still.push(m);
            restless.set(m, why);
          }
        }
      }),
    );
    if (confirming && still.length === 0) {
      pending = [];
      break;
    }
    // Every payment came to rest in some round: confirm it in one round over all of them.
    confirming = still.length === 0;
    pending = confirming ? all : still;
    if (Date.now() > deadline) {
      pending = still;
      break;
    }
    if (!confirming) await sleep(2_000);
  }
  for (const m of pending) {
    r.tally.violate({ rule: 'not_at_rest', payment: m.id, detail: `${restless.get(m)}; ${m.trail.join(' > ')}` });
    await keepHistory(r, m.id);
  }
}

/**
 * The history of a payment that did not come to rest, for diagnosis: decoded (the stack's key
 * dies with it) and in the SDK's JSON form, so `Worker.runReplayHistory` can replay the file.
 * The payloads carry references only, never card data (DESIGN.md §3).
 */
async function keepHistory(r: PaymentReal, id: string): Promise<void> {
  try {
    const history = await r.gateway.stack.client.workflow.getHandle(id).fetchHistory();
    await decodeHistoryPayloads(history, new EncryptionCodec(r.gateway.stack.keys), id);
    const dir = path.join(ROOT, 'test-output', 'histories');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${id}.json`), historyToJSON(history));
  } catch {
    // best effort: the violation is reported either way
  }
}

/**
 * The updates the workflow accepted (by name), and those accepted and never completed, from its
 * history: 1.24's DescribeWorkflowExecution has no list of pending updates. An update admitted
 * but not yet accepted leaves no event, and cannot be seen.
 */
async function updatesOf(r: PaymentReal, id: string): Promise<{ accepted: Set<string>; pending: string[] }> {
  const history = await r.gateway.stack.client.workflow.getHandle(id).fetchHistory();
  const open = new Map<string, string>();
  const accepted = new Set<string>();
  for (const e of history.events ?? []) {
    const acceptedEvent = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (acceptedEvent) {
      const name = acceptedEvent.acceptedRequest?.input?.name ?? '?';
      accepted.add(name);
      open.set(acceptedEvent.protocolInstanceId ?? acceptedEvent.acceptedRequest?.meta?.updateId ?? '?', name);
    }
    const admitted = e.workflowExecutionUpdateAdmittedEventAttributes;
    if (admitted) open.set(admitted.request?.meta?.updateId ?? '?', admitted.request?.input?.name ?? '?');
    const completed = e.workflowExecutionUpdateCompletedEventAttributes;
    if (completed) open.delete(completed.meta?.updateId ?? '?');
  }
  return { accepted, pending: [...open.values()] };
}

async function audit(models: PaymentModel[], r: PaymentReal, knownPaymentIds: Set<string>): Promise<void> {
  const { tally } = r;
  const existing = models.filter((m) => typeof m.view?.amount_captured === 'number');
  for (const m of models) {
    if (m.created && !existing.includes(m)) tally.violate({ rule: 'payment_unreadable', payment: m.id, detail: `created, but never read; ${m.trail.join(' > ')}` });
  }
  const ledger = await r.gateway.sandbox.ledger();
  const views: AuditedPayment[] = existing.map((m) => m.view as AuditedPayment);
  for (const v of auditLedger(views, ledger, { knownPaymentIds })) {
    const m = existing.find((x) => x.id === v.payment);
    tally.violate(m ? { ...v, detail: `${v.detail}; ${m.trail.join(' > ')}` } : v);
  }
  const byPayment = ledgerByPayment(ledger);

  let i = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (i < existing.length) {
        const m = existing[i++]!;
        await auditPayment(m, r, byPayment.get(m.id) ?? []);
      }
    }),
  );
  // Every merchant's entries, in every currency, sum to zero: double entry holds for the whole book.
  for (const { currency, total } of sumByCurrency(await r.ledger.accountTotals())) {
    if (total !== 0) tally.violate({ rule: 'ledger_unbalanced', payment: '-', detail: `the ledger's ${currency} entries sum to ${total}` });
  }
  tally.ledgerChecked += existing.length;
}

function sumByCurrency(totals: { currency: string; total: number }[]): { currency: string; total: number }[] {
  const by = new Map<string, number>();
  for (const t of totals) by.set(t.currency, (by.get(t.currency) ?? 0) + t.total);
  return [...by].map(([currency, total]) => ({ currency, total }));
}

async function auditPayment(m: PaymentModel, r: PaymentReal, rows: LedgerEntry[]): Promise<void> {
  const view = m.view;
  const problem = (rule: string, detail: string) => r.tally.violate({ rule, payment: m.id, detail: `${view.status}: ${detail}; ${m.trail.join(' > ')}` });
  const status: string = view.status;
  const captures = rows.filter((e) => e.kind === 'capture');

  if (!('awaiting_acquirer' in view)) problem('awaiting_acquirer_missing', 'the payment has no awaiting_acquirer field');

  // The workflow: no update left pending (no activity still running: waitForRest waited for that).
  try {
    const { accepted, pending } = await updatesOf(r, m.id);
    // The workflow's own word on what it accepted: a request whose answer was lost (or never came) still counts.
    if (accepted.has('cancel')) m.acceptedCancel = true;
    if (accepted.has('capture') && !m.acceptedCapture) m.acceptedCapture = {};
    if (pending.length > 0) problem('pending_update', `updates accepted and never completed: ${pending.join(', ')}`);
  } catch (err) {
    problem('workflow_unreadable', (err as Error).message.slice(0, 200));
  }

  await auditRecord(m, r, problem);
  // The record is the workflow's state: the postings that came with it are in the ledger too.
  for (const difference of await ledgerAgainstAcquirer(r.ledger, m.id, rows)) problem('ledger_not_acquirer', difference);

  // Every refund an answer showed as succeeded is still shown so (the ledger audit then finds it in the books).
  const finalRefunds = new Map<string, Body>(((view.refunds ?? []) as Body[]).map((x) => [x.id, x]));
  for (const [id, seen] of m.refundsSeen) {
    if (seen.statuses.has('succeeded') && finalRefunds.get(id)?.status !== 'succeeded') problem('reported_refund_lost', `refund ${id} (${seen.amount}) was shown as succeeded`);
  }

  // Accepted requests were acted on (DESIGN.md §4a).
  if (m.acceptedCapture) {
    if (['processing', 'requires_capture', 'declined'].includes(status) || (status === 'canceled' && !m.workflowCanceled)) problem('accepted_capture_not_acted_on', `capture accepted, payment ${status}`);
    const wanted = m.acceptedCapture.amount;
    if (wanted !== undefined && captures.length > 0 && captures[0]!.amount !== wanted) problem('capture_amount_not_requested', `asked ${wanted}, captured ${captures[0]!.amount}`);
  }
  if (m.acceptedCancel) {
    if (captures.length > 0) problem('accepted_cancel_captured', `cancel accepted, yet captured ${captures[0]!.amount}`);
    if (!['canceled', 'declined', 'failed'].includes(status)) problem('accepted_cancel_not_acted_on', `cancel accepted, payment ${status}`);
  }
  if (m.acceptedReview === 'reject' && !['declined', 'canceled', 'failed'].includes(status)) problem('accepted_review_not_acted_on', `rejected in review, payment ${status}`);
  if (m.acceptedReview === 'approve' && (status === 'requires_review' || view.decline_code === 'fraud_review_rejected' || view.decline_code === 'fraud_review_expired')) {
    problem('accepted_review_not_acted_on', `approved in review, payment ${status} ${view.decline_code ?? ''}`);
  }

  // What the test cards call for, whatever the faults.
  const approved = rows.filter((e) => e.kind === 'authorization' && e.status === 'approved');
  if (ACQUIRER_DECLINES.includes(m.plan.card) && approved.length > 0) problem('declining_card_approved', `${m.plan.card} has an approved authorization`);
  if (m.plan.card === 'fraudBlocklisted' && rows.length > 0) problem('fraud_declined_card_reached_acquirer', `${rows.length} ledger rows`);
  if (m.plan.card === 'captureFails' && captures.length > 0) problem('failing_capture_captured', 'the capture-fails card has a capture');
  if (['captured', 'settled', 'partially_refunded'].includes(status) && captures.length === 0) problem('captured_without_capture', 'no capture row');
}

/**
 * At rest, the payment's record is the workflow's state, exactly (once its last write landed:
 * a write is at most one behind), and final once the workflow has closed.
 */
async function auditRecord(m: PaymentModel, r: PaymentReal, problem: (rule: string, detail: string) => void): Promise<void> {
  const handle = r.gateway.stack.client.workflow.getHandle(m.id);
  let state: PaymentState | undefined;
  let record;
  for (let tries = 0; tries < 50; tries++) {
    state = (await handle.query(paymentStateQuery).catch(() => undefined)) as PaymentState | undefined;
    record = await r.records.get(m.id);
    if (state && record && sameJson(record.state, state)) break;
    await sleep(200);
  }
  if (!state) return problem('workflow_unreadable', 'no state to compare the record with');
  if (!record) return problem('record_missing', 'the payment has no record');
  if (!sameJson(record.state, state)) {
    const fields = [...new Set([...Object.keys(state), ...Object.keys(record.state)])].filter((k) => !sameJson((state as never)[k], (record.state as never)[k]));
    return problem('record_not_workflow', `at rest the record differs from the workflow in ${fields.join(', ')} (record write ${record.revision}, timeline ${record.state.timeline.length} of the workflow's ${state.timeline.length})`);
  }
  if ((await describeWorkflow(r, m.id)).closed && !record.final) problem('record_not_final', 'the workflow has closed, its record is not final');
}

// ---------------------------------------------------------------------------------------------
// Settings

/** An integer from the environment, or `fallback`; `_` and `,` may group digits. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** A daily settlement cutoff `seconds` from now: SETTLEMENT_CUTOFF_UTC ("HH:MM:SS") and when it falls. */
export function settlementCutoffIn(seconds: number): { utc: string; at: number } {
  const at = Math.ceil((Date.now() + seconds * 1000) / 1000) * 1000;
  return { utc: new Date(at).toISOString().slice(11, 19), at };
}
