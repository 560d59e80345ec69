import fc from 'fast-check';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { envInt, runScenario, scenarioArb, settlementCutoffIn, Tally } from '../helpers/payment-model';

/**
 * Soak run (`npm run soak`; not in CI): SOAK_PAYMENTS payments (default 5,000) through the API
 * with the model test's mix of cards, commands and faults (test/helpers/payment-model.ts, one
 * implementation), a worker SIGKILL every SOAK_KILL_EVERY_MS (default 20 s) and one restart of the
 * Temporal dev server, which runs on a database file so it keeps every payment across it. Then
 * faults off, rest, and the same audit as the model test: it prints the tallies (payments by
 * status, faults by mode, kills, violations, which must be 0) and the time taken.
 *
 * A short smoke run: SOAK_PAYMENTS=200 npm run soak. Other knobs: SOAK_SEED, SOAK_CONCURRENCY
 * (default 40), SOAK_MAX_MS (no payment starts after this long, default 4 h), SOAK_RESTART_AFTER
 * (payments started before the server restart, default half of them), SOAK_REST_MS (default 5 min),
 * SOAK_AUTH_WAIT_MS (the stack's AUTHORIZATION_WAIT_MS, default 10 000), SOAK_SETTLE_AFTER_S (the
 * settlement cutoff, that long after start, default 600).
 */

const PAYMENTS = envInt('SOAK_PAYMENTS', 5_000);
const SEED = envInt('SOAK_SEED', 20_261_201);
const CONCURRENCY = envInt('SOAK_CONCURRENCY', 40);
const KILL_EVERY_MS = envInt('SOAK_KILL_EVERY_MS', 20_000);
const MAX_MS = envInt('SOAK_MAX_MS', 4 * 60 * 60_000);
const RESTART_AFTER = envInt('SOAK_RESTART_AFTER', Math.floor(PAYMENTS / 2));
const REST_MS = envInt('SOAK_REST_MS', 300_000);
const AUTHORIZATION_WAIT_MS = envInt('SOAK_AUTH_WAIT_MS', 10_000);
const SETTLE_AFTER_S = envInt('SOAK_SETTLE_AFTER_S', 600);
const MERCHANT = 'm_soak';

describe('soak', () => {
  let gateway: GatewayStack;
  const cutoff = settlementCutoffIn(SETTLE_AFTER_S);

  beforeAll(async () => {
    gateway = await startGatewayStack({
      persistent: true,
      env: {
        AUTHORIZATION_WAIT_MS: String(AUTHORIZATION_WAIT_MS),
        // Payments workers are SIGKILLed every few minutes: no sticky cache (docs/replay.md). SOAK_WORKFLOW_CACHE_SIZE sets one.
        PAYMENTS_WORKFLOW_CACHE_SIZE: process.env.SOAK_WORKFLOW_CACHE_SIZE ?? '0',
        SETTLEMENT_CUTOFF_UTC: cutoff.utc,
        FRAUD_CARD_HOURLY_LIMIT: '100000000',
        FRAUD_MERCHANT_MINUTE_LIMIT: '100000000',
      },
    });
  }, 180_000);

  afterAll(async () => {
    await gateway?.sandbox.setFaults({}).catch(() => undefined);
    await gateway?.stop();
  }, 120_000);

  it(`${PAYMENTS} payments with faults, a worker SIGKILL every ${KILL_EVERY_MS / 1000} s and a server restart: no violation`, async () => {
    const log = (line: string) => console.log(`soak: ${line}`);
    log(`seed ${SEED} (rerun with SOAK_SEED=${SEED}), ${PAYMENTS} payments, ${CONCURRENCY} in flight, settlement cutoff ${cutoff.utc} UTC`);
    const started = Date.now();
    const [scenario] = fc.sample(scenarioArb(PAYMENTS, { count: 500, gapMs: { min: KILL_EVERY_MS, max: KILL_EVERY_MS } }), { seed: SEED, numRuns: 1 });
    const tally = new Tally();
    await runScenario(
      gateway,
      scenario!,
      {
        merchant: MERCHANT,
        authorizationWaitMs: AUTHORIZATION_WAIT_MS,
        settlementCutoffAt: cutoff.at,
        concurrency: CONCURRENCY,
        restTimeoutMs: REST_MS,
        runTag: `soak-${SEED}-${started}`,
        log,
      },
      tally,
      new Set(),
      { startUntil: started + MAX_MS, serverRestartAfterPayments: RESTART_AFTER, progressEveryMs: 60_000 },
    );
    const examples = tally.examples();
    log(`${tally.line(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`)}\n${tally.answersLine()}\n${examples.join('\n')}`);
    expect(tally.serverRestarts).toBe(1);
    expect(examples).toEqual([]);
  });
});
