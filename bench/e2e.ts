/**
 * End-to-end payment benchmark: `npm run bench:e2e` (builds dist/ for the stack's processes, then
 * compiles this to dist-bench/ and runs it with node).
 *
 * Starts the whole gateway as test/helpers/gateway-stack.ts does (Temporal dev server, acquirer
 * sandbox, the five worker processes and the API process, all real, on free ports; WORKERS_PER_QUEUE
 * and API_PROCESSES scale them out as under `npm start`), then:
 *   - drives POST /v1/payments (approved test card, automatic capture, a fresh Idempotency-Key each)
 *     with closed-loop clients at each concurrency level, and reports payments/s and the latency
 *     percentiles of the POST, which answers 201 once the payment is captured;
 *   - the floor: at the same levels and counts, a bare workflow (bench/noop-workflow.ts) running
 *     five sequential no-op activities (`ping`) on the same activity queues and worker processes,
 *     on the same server, run by a workflow worker inside this process and started by a Temporal
 *     client with the gateway's data converter; our payments/s is printed as a share of it.
 *
 * The card number and CVC are sent to the API only; nothing printed or written here contains them.
 *
 * Environment: BENCH_CONCURRENCY (levels, default "1,4,16,32"), BENCH_PAYMENTS (requests per level
 * and per path, default 50: at concurrency 1 a request takes about half a second on either path, and
 * the whole run, build included, stays under three minutes on two cores), BENCH_WARMUP (per path
 * before the first level, default 20).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { gatewayDataConverter } from '../src/temporal/data-converter';
import { startGatewayStack, type GatewayStack } from '../test/helpers/gateway-stack';
import { LOG_DIR } from '../test/helpers/processes';
import { linkHelperRoot } from './bench-root';
import { positiveInt } from './bench-env';
import { cpuDelta, cpuSample, stackProcesses } from './process-cpu';
import { TEST_CARDS, TEST_CVCS } from '../test/helpers/test-cards';
import type { noopPaymentFloorWorkflow } from './noop-workflow';

const LEVELS = concurrencyLevels('BENCH_CONCURRENCY', [1, 4, 16, 32]);
const PAYMENTS = positiveInt('BENCH_PAYMENTS', 50);
const WARMUP = positiveInt('BENCH_WARMUP', 20, { allowZero: true });
const MERCHANT = 'm_bench';
const FLOOR_QUEUE = 'bench-floor';
/** Activities a payment runs before the API answers: tokenize, checkFraud, authorize, purgeCvv, capturePayment. */
const PAYMENT_PATH_ACTIVITIES = 5;
/** Fraud velocity limits out of reach: every payment of the run uses one card and one merchant. */
const UNREACHABLE = '1000000000';
/** Reads measured per kind in the reads phase (BENCH_READS), at concurrency READ_CONCURRENCY, under a background of payments. */
const READS = positiveInt('BENCH_READS', 300);
/**
 * Scale out (README, "Scaling out"): worker processes per queue and API processes sharing the port,
 * read from the same variables as `npm start`: `WORKERS_PER_QUEUE=2 API_PROCESSES=2 npm run bench:e2e`.
 */
const WORKERS_PER_QUEUE = positiveInt('WORKERS_PER_QUEUE', 1);
const API_PROCESSES = positiveInt('API_PROCESSES', 1);

/**
 * The dev server's store (BENCH_SERVER_DB): `file` is what `npm start` runs (a SQLite file, with the
 * pragmas of src/temporal/dev-server.ts unless BENCH_SQLITE_PRAGMAS names others, `none` for
 * SQLite's defaults); `memory` (the default) leaves the disk out of the figures.
 */
const SERVER_DB: { persistent?: boolean; sqlitePragmas?: string[] } = (() => {
  const db = process.env.BENCH_SERVER_DB ?? 'memory';
  if (db !== 'memory' && db !== 'file') throw new Error(`BENCH_SERVER_DB must be memory or file, got ${JSON.stringify(db)}`);
  const pragmas = process.env.BENCH_SQLITE_PRAGMAS;
  return db === 'memory' ? {} : { persistent: true, ...(pragmas !== undefined ? { sqlitePragmas: pragmas === 'none' ? [] : pragmas.split(',') } : {}) };
})();
const READ_CONCURRENCY = 8;
/**
 * The dev server's dynamic configuration (BENCH_SERVER_TUNING): `gateway` (the default) is what
 * `npm start` runs (src/temporal/dev-server-tuning.ts); `none` is Temporal's own defaults, to
 * measure what the tuning is worth.
 */
const SERVER_TUNING: { dynamicConfig?: Readonly<Record<string, number>> } = (() => {
  const tuning = process.env.BENCH_SERVER_TUNING ?? 'gateway';
  if (tuning !== 'gateway' && tuning !== 'none') throw new Error(`BENCH_SERVER_TUNING must be gateway or none, got ${JSON.stringify(tuning)}`);
  return tuning === 'none' ? { dynamicConfig: {} } : {};
})();

function concurrencyLevels(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const levels = raw.split(/[\s,]+/).filter(Boolean).map(Number);
  if (levels.length === 0 || levels.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name} must list positive integers, e.g. "1,4,16,32"`);
  return levels;
}

// ---------------------------------------------------------------------------------------------
// Project root and the helpers' idea of it

// ---------------------------------------------------------------------------------------------
// Closed-loop load

/** One request: ok, or why not (a short label, never a request or response body). */
type Outcome = { ok: true } | { ok: false; label: string; non201: boolean };

interface LevelResult {
  concurrency: number;
  requests: number;
  ok: number;
  /** Requests that were answered with another status than 201, or failed without an answer. */
  non201: number;
  /** Failures by label. */
  failures: Map<string, number>;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

/** `concurrency` clients, each sending its next request as soon as the previous one is answered. */
async function closedLoop(count: number, concurrency: number, send: (i: number) => Promise<Outcome>): Promise<LevelResult> {
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  let next = 0;
  let non201 = 0;
  const client = async () => {
    for (let i = next++; i < count; i = next++) {
      const t0 = process.hrtime.bigint();
      let outcome: Outcome;
      try {
        outcome = await send(i);
      } catch (err) {
        outcome = { ok: false, label: errorLabel(err), non201: true };
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (outcome.ok) {
        latencies.push(ms);
      } else {
        failures.set(outcome.label, (failures.get(outcome.label) ?? 0) + 1);
        if (outcome.non201) non201++;
      }
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, client));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  // Nearest rank: the smallest latency at or above which p of the requests fall.
  const pct = (p: number) => (latencies.length ? latencies[Math.max(0, Math.ceil(p * latencies.length) - 1)]! : NaN);
  return {
    concurrency,
    requests: count,
    ok: latencies.length,
    non201,
    failures,
    perSecond: latencies.length / seconds,
    p50: pct(0.5),
    p95: pct(0.95),
    p99: pct(0.99),
  };
}

function errorLabel(err: unknown): string {
  if (!(err instanceof Error)) return 'error';
  const cause = (err as Error & { cause?: unknown }).cause;
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  // Our own requests and responses carry no card data beyond the request body, which no error quotes;
  // keep labels short and digit runs out all the same.
  return `${err.name}: ${err.message}${detail}`.replace(/\d{6,}/g, '…').slice(0, 120);
}

// ---------------------------------------------------------------------------------------------
// The two paths

const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** Payments the run created, by how they ended: the reads phase reads them back. */
const created = { captured: [] as string[], declined: [] as string[] };

function paymentSender(stack: GatewayStack, tag: string, card: string = TEST_CARDS.visa) {
  const expected = card === TEST_CARDS.visa ? 'captured' : 'declined';
  const body = JSON.stringify({
    amount: 1_999,
    currency: 'USD',
    capture_method: 'automatic',
    card: { number: card, exp_month: 12, exp_year: 2030, cvc: TEST_CVCS[0] },
    description: 'bench:e2e',
  });
  const token = stack.token(MERCHANT, ['payments:write', 'payments:read']);
  return async (i: number): Promise<Outcome> => {
    const response = await fetch(`${stack.apiUrl}/v1/payments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await token}`, 'Content-Type': 'application/json', 'Idempotency-Key': `bench-${runId}-${tag}-${i}` },
      body,
    });
    const text = await response.text();
    let parsed: { status?: unknown; error?: { code?: unknown } } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      // not JSON: reported by status alone
    }
    if (response.status !== 201) {
      const code = typeof parsed.error?.code === 'string' ? ` ${parsed.error.code}` : typeof parsed.status === 'string' ? ` ${parsed.status}` : '';
      return { ok: false, label: `HTTP ${response.status}${code}`, non201: true };
    }
    if (parsed.status !== expected) return { ok: false, label: `HTTP 201 but status ${String(parsed.status)}`, non201: false };
    created[expected].push((parsed as { id: string }).id);
    return { ok: true };
  };
}

/** GETs of `path(i)`, answered 200. */
function readSender(stack: GatewayStack, path: (i: number) => string) {
  const token = stack.token(MERCHANT, ['payments:read']);
  return async (i: number): Promise<Outcome> => {
    const response = await fetch(`${stack.apiUrl}${path(i)}`, { headers: { Authorization: `Bearer ${await token}` } });
    await response.text();
    return response.status === 200 ? { ok: true } : { ok: false, label: `HTTP ${response.status}`, non201: true };
  };
}

/**
 * Reads under load: while payments keep arriving (4 clients), GET of closed payments (declined:
 * answered from their final record), GET of running ones (captured, settling at the cutoff:
 * answered by their workflow, a query) and listing pages (the records), each READS times.
 */
async function readsPhase(stack: GatewayStack): Promise<{ name: string; r: LevelResult }[]> {
  process.stdout.write(`Reads: ${Math.min(READS, 50)} declined payments to read back... `);
  await closedLoop(Math.min(READS, 50), 4, paymentSender(stack, 'reads-declined', TEST_CARDS.declinedGeneric));
  // Their workflows close after the decision; the record's last write lands just before.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  console.log('done');
  let loadDone = false;
  const load = (async () => {
    const send = paymentSender(stack, 'reads-load');
    let i = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (!loadDone) await send(i++).catch(() => undefined);
    }));
  })();
  const results: { name: string; r: LevelResult }[] = [];
  const pick = (ids: string[], i: number) => ids[i % ids.length]!;
  try {
    for (const [name, path] of [
      ['GET closed (record)', (i: number) => `/v1/payments/${pick(created.declined, i)}`],
      ['GET running (workflow)', (i: number) => `/v1/payments/${pick(created.captured, i)}`],
      ['list, 20 per page (records)', () => '/v1/payments?limit=20'],
      ['list, status filter (records)', () => '/v1/payments?limit=20&status=declined'],
    ] as const) {
      process.stdout.write(`  ${name}: ${READS} at concurrency ${READ_CONCURRENCY}... `);
      const r = await closedLoop(READS, READ_CONCURRENCY, readSender(stack, path));
      console.log(`${fmtRate(r.perSecond)}/s`);
      results.push({ name, r });
    }
  } finally {
    loadDone = true;
    await load;
  }
  return results;
}

function floorSender(stack: GatewayStack, tag: string) {
  return async (i: number): Promise<Outcome> => {
    const ran = await stack.stack.client.workflow.execute<typeof noopPaymentFloorWorkflow>('noopPaymentFloorWorkflow', {
      taskQueue: FLOOR_QUEUE,
      workflowId: `bench-floor-${runId}-${tag}-${i}`,
      args: [],
    });
    return ran === PAYMENT_PATH_ACTIVITIES ? { ok: true } : { ok: false, label: `ran ${ran} activities`, non201: true };
  };
}

// ---------------------------------------------------------------------------------------------
// Output

const fmtRate = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : '-');
const fmtMs = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 100 ? 1 : 0) : '-');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => '  ' + r.map((cell, c) => cell.padStart(widths[c]!)).join('  ')).join('\n');
}

function failureLines(name: string, r: LevelResult): string[] {
  return [...r.failures].map(([label, n]) => `  ${name} at concurrency ${r.concurrency}: ${n} x ${label}`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`End-to-end payment benchmark: node ${process.version}, ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} CPUs on the machine`);
  console.log(`Temporal dev server store: ${SERVER_DB.persistent ? `SQLite file, pragmas ${SERVER_DB.sqlitePragmas ? JSON.stringify(SERVER_DB.sqlitePragmas) : 'of npm start'}` : 'in memory'} (BENCH_SERVER_DB, BENCH_SQLITE_PRAGMAS); dynamic configuration: ${SERVER_TUNING.dynamicConfig ? "Temporal's defaults" : "npm start's (src/temporal/dev-server-tuning.ts)"} (BENCH_SERVER_TUNING).`);
  console.log(`Scale: ${WORKERS_PER_QUEUE} worker process(es) per queue (WORKERS_PER_QUEUE), ${API_PROCESSES} API process(es) (API_PROCESSES).`);
  console.log(`Concurrency levels ${LEVELS.join(', ')} (BENCH_CONCURRENCY); ${PAYMENTS} requests per level and path (BENCH_PAYMENTS), after ${WARMUP} warm-up (BENCH_WARMUP).`);
  console.log('');

  linkHelperRoot();
  Runtime.install({
    // The in-process worker registers workflows only; the SDK's notices about that are noise here.
    logger: new DefaultLogger('WARN', (entry) => {
      if (/^No (activities|Nexus services) registered/.test(entry.message)) return;
      process.stderr.write(`[bench worker] ${entry.level} ${entry.message}\n`);
    }),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });

  let stack: GatewayStack | undefined;
  let saturation: string | undefined;
  let floorConnection: NativeConnection | undefined;
  let floorWorker: Worker | undefined;
  let floorRun: Promise<void> | undefined;
  const stopAll = async () => {
    if (floorWorker && floorWorker.getState() === 'RUNNING') floorWorker.shutdown();
    await floorRun?.catch(() => undefined);
    await floorConnection?.close().catch(() => undefined);
    await stack?.stop();
  };
  process.once('SIGINT', () => {
    void stopAll().finally(() => process.exit(130));
  });

  try {
    process.stdout.write(`Starting the stack (Temporal dev server, acquirer sandbox, ${5 * WORKERS_PER_QUEUE} workers, ${API_PROCESSES} API process(es))... `);
    const t0 = Date.now();
    stack = await startGatewayStack({
      ...SERVER_DB,
      ...SERVER_TUNING,
      workersPerQueue: WORKERS_PER_QUEUE,
      apiProcesses: API_PROCESSES,
      env: {
        // One card and one merchant for the whole run: with the default velocity limits the 6th payment
        // would go to review and the 11th be declined. The rules still run on every payment.
        FRAUD_CARD_HOURLY_LIMIT: UNREACHABLE,
        FRAUD_MERCHANT_MINUTE_LIMIT: UNREACHABLE,
      },
    });
    console.log(`done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

    process.stdout.write('Starting the floor worker in this process (bundling bench/noop-workflow)... ');
    const t1 = Date.now();
    floorConnection = await NativeConnection.connect({ address: stack.stack.server.address });
    const worker = await Worker.create({
      connection: floorConnection,
      namespace: 'default',
      taskQueue: FLOOR_QUEUE,
      workflowsPath: require.resolve('./noop-workflow'),
      dataConverter: gatewayDataConverter(stack.stack.keys),
    });
    floorWorker = worker;
    floorRun = worker.run();
    console.log(`done (${((Date.now() - t1) / 1000).toFixed(1)} s)`);

    if (WARMUP > 0) {
      process.stdout.write(`Warm-up: ${WARMUP} payments and ${WARMUP} floor workflows at concurrency 4... `);
      const warm = [await closedLoop(WARMUP, 4, paymentSender(stack, 'warmup')), await closedLoop(WARMUP, 4, floorSender(stack, 'warmup'))];
      const failed = warm.reduce((n, r) => n + (r.requests - r.ok), 0);
      console.log(failed ? `done, ${failed} failed:` : 'done');
      for (const line of [...failureLines('payments', warm[0]!), ...failureLines('floor', warm[1]!)]) console.log(line);
    }

    const results: { level: number; ours: LevelResult; floor: LevelResult }[] = [];
    const processes = stackProcesses(stack);
    const cpu: { level: number; ours: Map<string, number>; floor: Map<string, number> }[] = [];
    for (const level of LEVELS) {
      process.stdout.write(`Concurrency ${level}: ${PAYMENTS} payments... `);
      const cpu0 = cpuSample(processes);
      const ours = await closedLoop(PAYMENTS, level, paymentSender(stack, `c${level}`));
      const cpu1 = cpuSample(processes);
      process.stdout.write(`${fmtRate(ours.perSecond)}/s; ${PAYMENTS} floor workflows... `);
      const floor = await closedLoop(PAYMENTS, level, floorSender(stack, `c${level}`));
      const cpu2 = cpuSample(processes);
      console.log(`${fmtRate(floor.perSecond)}/s`);
      results.push({ level, ours, floor });
      cpu.push({ level, ours: cpuDelta(cpu0, cpu1), floor: cpuDelta(cpu1, cpu2) });
    }

    const reads = await readsPhase(stack);
    const ledger = await stack.sandbox.ledger().catch(() => undefined);
    console.log('');
    console.log('POST /v1/payments (approved test card, automatic capture: 201 once captured) vs the floor:');
    console.log(`a bare workflow with ${PAYMENT_PATH_ACTIVITIES} sequential no-op activities on the same queues, workers and server.`);
    console.log('Latencies in ms, of successful requests; payments/s and workflows/s count successes over the wall time of the level.');
    const rows = [
      ['conc', 'payments/s', 'p50', 'p95', 'p99', 'non-201', 'not capt.', '|', 'floor wf/s', 'p50', 'p95', 'p99', 'errors', '|', 'ours/floor'],
    ];
    for (const { level, ours, floor } of results) {
      rows.push([
        String(level),
        fmtRate(ours.perSecond),
        fmtMs(ours.p50),
        fmtMs(ours.p95),
        fmtMs(ours.p99),
        String(ours.non201),
        String(ours.requests - ours.ok - ours.non201),
        '|',
        fmtRate(floor.perSecond),
        fmtMs(floor.p50),
        fmtMs(floor.p95),
        fmtMs(floor.p99),
        String(floor.requests - floor.ok),
        '|',
        floor.perSecond > 0 ? `${((ours.perSecond / floor.perSecond) * 100).toFixed(1)} %` : '-',
      ]);
    }
    console.log(table(rows));
    saturation = saturationLine(results);
    const failures = results.flatMap(({ ours, floor }) => [...failureLines('payments', ours), ...failureLines('floor', floor)]);
    if (failures.length) {
      console.log('Failures:');
      for (const line of failures) console.log(line);
    }
    console.log('');
    console.log('CPU per completed payment (ours) and per floor workflow, in ms, by process (/proc/<pid>/stat, user + system):');
    // One column per name: several processes of one kind (scaled out) are summed under it.
    const names = [...new Set(processes.map((p) => p.name))];
    const cpuRows = [['conc', 'path', ...names, 'total']];
    for (const { level, ours, floor } of cpu) {
      const done = results.find((r) => r.level === level)!;
      for (const [pathName, delta, completed] of [['ours', ours, done.ours.ok], ['floor', floor, done.floor.ok]] as const) {
        const per = (ms: number) => (completed > 0 ? fmtMs(ms / completed) : '-');
        cpuRows.push([String(level), pathName, ...names.map((n) => per(delta.get(n) ?? 0)), per([...delta.values()].reduce((a, b) => a + b, 0))]);
      }
    }
    console.log(table(cpuRows));
    console.log(`At saturation the ${os.cpus().length} cores are the budget: ${os.cpus().length * 1000} ms of CPU per second, divided by the total above.`);
    console.log('');
    console.log(`Reads under load (4 clients sending payments meanwhile), ${READ_CONCURRENCY} readers, latencies in ms:`);
    const readRows = [['read', 'reads/s', 'p50', 'p95', 'p99', 'errors']];
    for (const { name, r } of reads) readRows.push([name, fmtRate(r.perSecond), fmtMs(r.p50), fmtMs(r.p95), fmtMs(r.p99), String(r.requests - r.ok)]);
    console.log(table(readRows));
    for (const line of reads.flatMap(({ name, r }) => failureLines(name, r))) console.log(line);
    console.log('');
    console.log('Each payment: card intake sealed by the API (SQLite), the payment workflow started on the payments worker and');
    console.log('its state read back by query until decided; tokenize + checkFraud + authorize (acquirer sandbox over HTTP; the');
    console.log('vault destroys the CVV with the answer; with ACQUIRER_SALE, the default, the capture is in the same call).');
    console.log(`Fraud velocity limits raised out of reach (FRAUD_CARD_HOURLY_LIMIT, FRAUD_MERCHANT_MINUTE_LIMIT = ${UNREACHABLE}) so every`);
    console.log('payment takes the approved path with one card; the rules are still evaluated on each.');
    console.log('The floor workflow runs on a worker in this process; its activities are `ping` on the vault, fraud, vault,');
    console.log('vault and acquirer queues, answered by the same worker processes as the payments.');
    const single = results.find((r) => r.level === 1)?.floor;
    if (single && Number.isFinite(single.p50)) {
      console.log(`At concurrency 1 the floor spends ${fmtMs(single.p50 / PAYMENT_PATH_ACTIVITIES)} ms per activity step (workflow task, activity task, back): dispatch, not work.`);
    }
    if (ledger) {
      const kinds = new Map<string, number>();
      for (const entry of ledger) kinds.set(`${entry.kind} ${entry.status}`, (kinds.get(`${entry.kind} ${entry.status}`) ?? 0) + 1);
      console.log(`Acquirer sandbox ledger: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ') || 'empty'}.`);
    }
    console.log(`All ${os.cpus().length} CPUs are shared by the server, the workers, the API and this process. Stack logs: ${path.relative(process.cwd(), LOG_DIR) || LOG_DIR}`);
  } finally {
    process.stdout.write('Stopping the stack... ');
    await stopAll();
    console.log(`done. Total ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  }
  // The run's summary, last (issue 14's acceptance line).
  if (saturation) console.log(saturation);
}

/**
 * Saturation is the best throughput any level reached, ours and the floor's each at its own best
 * level; latency is compared at concurrency 1, where nothing queues.
 */
function saturationLine(results: { level: number; ours: LevelResult; floor: LevelResult }[]): string | undefined {
  if (results.length === 0) return undefined;
  const ours = Math.max(...results.map((r) => r.ours.perSecond));
  const floor = Math.max(...results.map((r) => r.floor.perSecond));
  const single = results.find((r) => r.level === 1);
  const latency = single ? `concurrency 1: POST p50 ${fmtMs(single.ours.p50)} ms, floor p50 ${fmtMs(single.floor.p50)} ms` : 'concurrency 1: not measured (BENCH_CONCURRENCY has no 1)';
  return `saturation: ours ${fmtRate(ours)} payments/s, floor ${fmtRate(floor)} workflows/s, ratio ${floor > 0 ? (ours / floor).toFixed(2) : '-'}; ${latency}`;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('\ne2e benchmark failed:', err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
