import fs from 'node:fs';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { auditLedger, formatViolation, ledgerByPayment } from '../helpers/ledger-audit';
import { TEST_CARDS } from '../helpers/test-cards';
import { seededRandom } from '../../src/acquirer/sandbox/seeded-random';

/**
 * Faults (DESIGN.md §6): with the acquirer sandbox failing 30 % of money calls (503 at once) and
 * hanging 5 % of them beyond the acquirer client's 10 s timeout (src/acquirer/http-acquirer-client.ts,
 * DEFAULT_TIMEOUT_MS), 200 payments with a mix of test cards all reach a final (or resting) state,
 * each the one its card calls for, and the sandbox's ledger shows no duplicate money movement.
 *
 * A faulted call does nothing at the sandbox (no ledger row, no idempotency record), so the
 * workflow's retries (8 attempts, 1 s doubling to 30 s) eventually get through. A payment whose
 * call exhausts its retries ends `failed` for an acquirer-unavailable reason: still final, and
 * counted in the summary line.
 */

const PAYMENTS = 200;
const CONCURRENCY = 20;
const MERCHANT = 'm_faults';
const FAULTS = { errorRate: 0.3, hangRate: 0.05, hangMs: 12_000, seed: 42 };
/** Every payment must be at rest by then (measured from the first POST). */
const DEADLINE_MS = 300_000;
const POLL_MS = 1_000;

type Kind =
  | 'approved'
  | 'transient'
  | 'declined_generic'
  | 'declined_insufficient_funds'
  | 'declined_incorrect_cvc'
  | 'declined_expired_card'
  | 'fraud_declined'
  | 'capture_fails'
  | 'manual_capture'
  | 'manual_partial_capture'
  | 'manual_cancel';

/** One cycle of 20 payments, repeated (then shuffled) up to PAYMENTS. */
const MIX: readonly { kind: Kind; card: string }[] = [
  { kind: 'approved', card: TEST_CARDS.visa },
  { kind: 'approved', card: TEST_CARDS.mastercard },
  { kind: 'approved', card: TEST_CARDS.discover },
  { kind: 'approved', card: TEST_CARDS.amex },
  { kind: 'approved', card: TEST_CARDS.visa },
  { kind: 'approved', card: TEST_CARDS.mastercard },
  { kind: 'approved', card: TEST_CARDS.amex },
  { kind: 'transient', card: TEST_CARDS.transientThenApproved },
  { kind: 'declined_generic', card: TEST_CARDS.declinedGeneric },
  { kind: 'declined_insufficient_funds', card: TEST_CARDS.declinedInsufficientFunds },
  { kind: 'declined_incorrect_cvc', card: TEST_CARDS.declinedIncorrectCvc },
  { kind: 'declined_expired_card', card: TEST_CARDS.declinedExpired },
  { kind: 'fraud_declined', card: TEST_CARDS.fraudBlocklisted },
  { kind: 'capture_fails', card: TEST_CARDS.captureFails },
  { kind: 'capture_fails', card: TEST_CARDS.captureFails },
  { kind: 'manual_capture', card: TEST_CARDS.discover },
  { kind: 'manual_capture', card: TEST_CARDS.visa },
  { kind: 'manual_partial_capture', card: TEST_CARDS.mastercard },
  { kind: 'manual_cancel', card: TEST_CARDS.amex },
  { kind: 'manual_cancel', card: TEST_CARDS.visa },
];

const DECLINE_CODE: Partial<Record<Kind, string>> = {
  declined_generic: 'generic_decline',
  declined_insufficient_funds: 'insufficient_funds',
  declined_incorrect_cvc: 'incorrect_cvc',
  declined_expired_card: 'expired_card',
  fraud_declined: 'fraud_declined',
};

/** The states a payment rests in during this test: final, or captured and waiting for the settlement cutoff. */
const RESTING = ['captured', 'settled', 'declined', 'failed', 'canceled', 'reversed'];

interface View {
  id: string;
  status: string;
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  refunds: { id: string; amount: number; status: string }[];
  decline_code: string | null;
  failure: { code: string; message: string } | null;
}

interface FaultPayment {
  index: number;
  kind: Kind;
  card: string;
  amount: number;
  /** Manual captures: the amount asked for. */
  captureAmount?: number;
  id?: string;
  createdWith?: number;
  /** The answer to POST capture / cancel, when one was sent. */
  actedWith?: number;
  final?: View;
  /** Set when the workflow closed without the payment reaching a resting state. */
  closedAs?: string;
  ms?: number;
}


const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An acquirer call that never got through within its retries: the message the workflow kept says so. */
const isUnavailable = (failure: View['failure']) => failure !== null && /acquirer_unavailable|did not answer|answered 5\d\d/.test(failure.message);

describe('acquirer faults: 30 % errors and some hangs', () => {
  let gateway: GatewayStack;

  beforeAll(async () => {
    gateway = await startGatewayStack({
      // Two hundred payments with a handful of cards within minutes: keep the velocity rules out of it.
      env: { FRAUD_CARD_HOURLY_LIMIT: '100000', FRAUD_MERCHANT_MINUTE_LIMIT: '100000' },
    });
  }, 120_000);

  afterAll(async () => {
    await gateway?.sandbox.setFaults({}).catch(() => undefined);
    await gateway?.stop();
  }, 60_000);

  it(`${PAYMENTS} payments, ${CONCURRENCY} at a time: all reach a final state, no duplicate money movement`, async () => {
    const random = seededRandom(FAULTS.seed);
    const between = (min: number, max: number) => Math.floor(min + random() * (max - min));
    const payments: FaultPayment[] = Array.from({ length: PAYMENTS }, (_, index) => {
      const { kind, card } = MIX[index % MIX.length]!;
      const amount = between(100, 100_000);
      return { index, kind, card, amount, ...(kind === 'manual_partial_capture' ? { captureAmount: between(1, amount) } : {}) };
    });
    for (let i = payments.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [payments[i], payments[j]] = [payments[j]!, payments[i]!];
    }

    await gateway.sandbox.setFaults(FAULTS);
    const runId = `${Date.now()}`;
    const started = Date.now();
    const deadline = started + DEADLINE_MS;

    const get = async (id: string): Promise<View | undefined> => {
      const { status, body } = await gateway.request('GET', `/v1/payments/${id}`, { merchant: MERCHANT });
      return status === 200 ? (body as View) : undefined;
    };
    /** Polls until `done` or the deadline; stops early, setting `closedAs`, if the workflow closed without getting there. */
    const waitFor = async (p: FaultPayment, done: (v: View) => boolean): Promise<View | undefined> => {
      for (;;) {
        const view = await get(p.id!);
        if (view && done(view)) return view;
        const description = await gateway.stack.client.workflow.getHandle(p.id!).describe();
        if (description.status.name !== 'RUNNING') {
          // It may have closed between the two reads, at rest: read it once more.
          const last = await get(p.id!);
          if (!last || !done(last)) p.closedAs = `workflow ${description.status.name} with the payment ${last?.status ?? 'unreadable'}`;
          return last;
        }
        if (Date.now() > deadline) return view;
        await sleep(POLL_MS);
      }
    };

    const run = async (p: FaultPayment) => {
      const t0 = Date.now();
      const manual = p.kind.startsWith('manual_');
      const created = await gateway.request('POST', '/v1/payments', {
        merchant: MERCHANT,
        headers: { 'Idempotency-Key': `faults-${runId}-${p.index}` },
        body: {
          amount: p.amount,
          currency: 'EUR',
          capture_method: manual ? 'manual' : 'automatic',
          card: { number: p.card, exp_month: 12, exp_year: 2030, cvc: p.card.startsWith('37') ? '7319' : '731' },
        },
      });
      p.createdWith = created.status;
      if (![201, 202].includes(created.status)) return;
      p.id = (created.body as { id: string }).id;

      if (manual) {
        const decided = await waitFor(p, (v) => v.status !== 'processing');
        if (decided?.status === 'requires_capture' && !p.closedAs) {
          const action =
            p.kind === 'manual_cancel'
              ? gateway.request('POST', `/v1/payments/${p.id}/cancel`, { merchant: MERCHANT, body: { reason: 'fault test' } })
              : gateway.request('POST', `/v1/payments/${p.id}/capture`, { merchant: MERCHANT, body: p.captureAmount === undefined ? {} : { amount: p.captureAmount } });
          p.actedWith = (await action).status;
        }
      }
      if (!p.closedAs) p.final = await waitFor(p, (v) => RESTING.includes(v.status));
      else p.final = await get(p.id);
      p.ms = Date.now() - t0;
    };

    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < payments.length) await run(payments[next++]!);
      }),
    );
    const finished = Date.now();
    await gateway.sandbox.setFaults({});

    // ---- every payment reached a final state, the one its card calls for --------------------------------
    const label = (p: FaultPayment) => `#${p.index} ${p.kind} ${p.id ?? '(not created)'}`;
    expect(payments.filter((p) => ![201, 202].includes(p.createdWith ?? 0)).map((p) => `${label(p)}: POST answered ${p.createdWith}`)).toEqual([]);
    expect(payments.filter((p) => p.closedAs).map((p) => `${label(p)}: ${p.closedAs}`)).toEqual([]);
    expect(payments.filter((p) => !RESTING.includes(p.final?.status ?? '')).map((p) => `${label(p)}: ${p.final?.status}`)).toEqual([]);
    // A manual payment that reached requires_capture was captured or canceled through the API, never left waiting:
    // done (200), accepted and acted on after the acquirer answered (202), or recorded but not yet decided when the
    // wait ran out (503 payments_unavailable: the payments worker was slow); its final state is checked below either way.
    expect(payments.filter((p) => p.actedWith !== undefined && ![200, 202, 503].includes(p.actedWith)).map((p) => `${label(p)}: capture/cancel answered ${p.actedWith}`)).toEqual([]);

    const unavailable = payments.filter((p) => p.final!.status === 'failed' && isUnavailable(p.final!.failure));
    const wrong: string[] = [];
    for (const p of payments) {
      const v = p.final!;
      const got = `${v.status}${v.decline_code ? ` ${v.decline_code}` : ''}${v.failure ? ` ${v.failure.code}` : ''}`;
      // An acquirer that stayed unavailable through every retry fails a payment at any step: final, counted below.
      if (unavailable.includes(p)) continue;
      const ok = (() => {
        switch (p.kind) {
          case 'approved':
          case 'transient':
            return ['captured', 'settled'].includes(v.status) && v.amount_captured === p.amount;
          case 'manual_capture':
          case 'manual_partial_capture':
            return ['captured', 'settled'].includes(v.status) && v.amount_captured === (p.captureAmount ?? p.amount);
          case 'manual_cancel':
            return v.status === 'canceled' && v.amount_captured === 0;
          case 'capture_fails':
            return v.status === 'failed' && v.failure?.code === 'capture_failed' && v.amount_captured === 0;
          default:
            return v.status === 'declined' && v.decline_code === DECLINE_CODE[p.kind];
        }
      })();
      if (!ok) wrong.push(`${label(p)}: ${got}`);
    }
    expect(wrong).toEqual([]);

    // ---- the ledger: no movement twice, every hold released or captured, amounts as the payments say ----
    const ledger = await gateway.sandbox.ledger();
    const ours = new Set(payments.map((p) => p.id!));
    const ledgerProblems = auditLedger(payments.map((p) => p.final!), ledger, { knownPaymentIds: ours }).map(formatViolation);
    // What this test's cards call for beyond the books agreeing: a fraud decline never reaches the
    // acquirer, an acquirer decline is its one declined authorization, a cancel voids.
    const byPayment = ledgerByPayment(ledger);
    for (const p of payments) {
      const rows = byPayment.get(p.id!) ?? [];
      const v = p.final!;
      const problem = (what: string) => ledgerProblems.push(`${label(p)} (${v.status}): ${what}; rows ${JSON.stringify(rows.map((e) => `${e.kind}:${e.status}:${e.amount}`))}`);
      if (v.status === 'declined') {
        const expected = p.kind === 'fraud_declined' ? 0 : 1;
        if (rows.length !== expected || rows.filter((e) => e.kind === 'authorization' && e.status === 'declined').length !== expected) {
          problem(`declined: expected ${expected} declined authorization row and nothing else`);
        }
      } else if (v.status === 'canceled' && !rows.some((e) => e.kind === 'void')) {
        problem('canceled, but no void of its authorization');
      }
    }
    expect(ledgerProblems).toEqual([]);

    // ---- summary ------------------------------------------------------------------------------------------
    const faults = { error: 0, hang: 0 };
    for (const line of fs.readFileSync(gateway.sandbox.process.logFile, 'utf8').split('\n')) {
      const fault = /"fault":"(error|hang)"/.exec(line)?.[1] as 'error' | 'hang' | undefined;
      if (fault) faults[fault] += 1;
    }
    const count = (values: string[]) => Object.fromEntries([...new Set(values)].sort().map((s) => [s, values.filter((x) => x === s).length]));
    const durations = payments.map((p) => p.ms ?? 0).sort((a, b) => a - b);
    console.log(
      `acquirer-faults: ${PAYMENTS} payments (${CONCURRENCY} at a time), faults ${JSON.stringify(FAULTS)}; ` +
        `states ${JSON.stringify(count(payments.map((p) => p.final!.status)))}; POST answers ${JSON.stringify(count(payments.map((p) => String(p.createdWith))))}; ` +
        `failed because the acquirer stayed unavailable through every retry: ${unavailable.length}` +
        (unavailable.length ? ` (${unavailable.map((p) => `${p.kind}/${p.final!.failure!.code}`).join(', ')})` : '') +
        `; injected faults answered: ${faults.error} errors, ${faults.hang} hangs; ledger rows ${ledger.length}; ` +
        `per payment median ${(durations[Math.floor(durations.length / 2)]! / 1000).toFixed(1)} s, max ${(durations[durations.length - 1]! / 1000).toFixed(1)} s; ` +
        `all at rest ${((finished - started) / 1000).toFixed(1)} s after the first POST`,
    );
  }, 480_000);
});
