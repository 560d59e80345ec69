import type { TaskQueueName } from '../../src/temporal/task-queues';
import fc from 'fast-check';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { envInt, runScenario, scenarioArb, settlementCutoffIn, Tally, type ModelOptions } from '../helpers/payment-model';

/**
 * Model-based test of the payment lifecycle under faults (DESIGN.md §4a, §6; the model and its
 * checks are in test/helpers/payment-model.ts, the ledger audit in test/helpers/ledger-audit.ts).
 *
 * fast-check generates MODEL_RUNS scenarios from one seed; each is MODEL_PAYMENTS payments with
 * their own command sequences, a rotation of sandbox faults of every mode (about 30 % of money
 * calls) and a schedule of worker SIGKILLs, run MODEL_CONCURRENCY at a time through the HTTP API
 * of the whole stack. After each run, with faults off and every payment at rest, the ledger must
 * agree with every payment and every accepted request must have been acted on.
 *
 * Reproduce a run with MODEL_SEED=<the seed it printed> (the same scenarios are generated; the
 * system's timing is not replayed, so a race may need a few tries). MODEL_KEEP_GOING=1 runs every
 * scenario even after one found violations (for a full list of findings). The settlement cutoff is
 * set MODEL_SETTLE_AFTER_S after the stack starts, so payments captured before it settle (or,
 * with the settlement-fails card, are reversed) while faults are on.
 */

const SEED = envInt('MODEL_SEED', 424_242);
// Two runs keep the CI within its 30 minutes; `npm run test:model` runs five.
const RUNS = envInt('MODEL_RUNS', 2);
const PAYMENTS = envInt('MODEL_PAYMENTS', 150);
const CONCURRENCY = envInt('MODEL_CONCURRENCY', 32);
const AUTHORIZATION_WAIT_MS = envInt('MODEL_AUTH_WAIT_MS', 10_000);
/**
 * The workers SIGKILLed: all four by default, the payments (workflow) worker included. The stack
 * runs it without a sticky cache (PAYMENTS_WORKFLOW_CACHE_SIZE=0): with one, this test found that
 * SDK 1.24 cannot always replay what it wrote after a killed worker's sticky task timed out
 * (docs/replay.md). MODEL_KILL_QUEUES narrows the list; MODEL_WORKFLOW_CACHE_SIZE sets the cache.
 */
const KILL_QUEUES = (process.env.MODEL_KILL_QUEUES ?? 'payments,vault,fraud,acquirer').split(',').map((q) => q.trim()) as TaskQueueName[];
const KILL_GAP_MS = { min: envInt('MODEL_KILL_GAP_MIN_MS', 8_000), max: envInt('MODEL_KILL_GAP_MAX_MS', 20_000) };
const REST_MS = envInt('MODEL_REST_MS', 150_000);
const SETTLE_AFTER_S = envInt('MODEL_SETTLE_AFTER_S', 150);
const KEEP_GOING = process.env.MODEL_KEEP_GOING === '1';
const MERCHANT = 'm_model';

describe('payment model: random command sequences against random faults and kills', () => {
  let gateway: GatewayStack;
  const cutoff = settlementCutoffIn(SETTLE_AFTER_S);

  beforeAll(async () => {
    gateway = await startGatewayStack({
      env: {
        PAYMENTS_WORKFLOW_CACHE_SIZE: process.env.MODEL_WORKFLOW_CACHE_SIZE ?? '0',
        AUTHORIZATION_WAIT_MS: String(AUTHORIZATION_WAIT_MS),
        SETTLEMENT_CUTOFF_UTC: cutoff.utc,
        // Hundreds of payments with thirteen cards within minutes: keep the velocity rules out of it.
        FRAUD_CARD_HOURLY_LIMIT: '1000000',
        FRAUD_MERCHANT_MINUTE_LIMIT: '1000000',
      },
    });
  }, 180_000);

  afterAll(async () => {
    await gateway?.sandbox.setFaults({}).catch(() => undefined);
    await gateway?.stop();
  }, 60_000);

  it(`${RUNS} runs of ${PAYMENTS} payments, ${CONCURRENCY} in flight: every answer allowed and in time, the ledger agrees with every payment`, async () => {
    console.log(`payment-model: seed ${SEED} (rerun with MODEL_SEED=${SEED}), ${RUNS} runs x ${PAYMENTS} payments, settlement cutoff ${cutoff.utc} UTC`);
    const started = Date.now();
    const tally = new Tally();
    const known = new Set<string>();
    const options: Omit<ModelOptions, 'runTag'> = {
      merchant: MERCHANT,
      authorizationWaitMs: AUTHORIZATION_WAIT_MS,
      settlementCutoffAt: cutoff.at,
      concurrency: CONCURRENCY,
      restTimeoutMs: REST_MS,
      log: (line) => console.log(`payment-model: ${line}`),
    };
    let run = 0;
    const property = fc.asyncProperty(scenarioArb(PAYMENTS, { count: 50, gapMs: KILL_GAP_MS, queues: KILL_QUEUES }), async (scenario) => {
      run += 1;
      const before = tally.violations.length;
      const t0 = Date.now();
      await runScenario(gateway, scenario, { ...options, runTag: `${SEED}-${run}` }, tally, known);
      console.log(`${tally.line(`payment-model after run ${run} (${((Date.now() - t0) / 1000).toFixed(0)} s, cumulative)`)}\n${tally.answersLine()}`);
      const found = tally.violations.length - before;
      if (found > 0 && !KEEP_GOING) throw new Error(`run ${run}: ${found} violations`);
    });
    const details = await fc.check(property, { seed: SEED, numRuns: RUNS, endOnFailure: true });

    const examples = tally.examples();
    console.log(
      `${tally.line(`payment-model total, ${((Date.now() - started) / 1000).toFixed(0)} s`)}\n` +
        (details.failed ? `failing scenario: seed ${SEED}, path "${details.counterexamplePath}", run ${run}\n` : '') +
        examples.join('\n'),
    );
    expect(tally.payments).toBeGreaterThan(0);
    expect(examples).toEqual([]);
  }, 30 * 60_000);
});
