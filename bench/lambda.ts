/**
 * The API's Lambda function, measured: `npm run bench:lambda` (builds dist/ and the bundle with
 * `npm run build:lambda`, compiles this to dist-bench/ and runs it with node).
 *
 * Prints the zipped size of what `sam deploy` uploads (dist/lambda.zip), then starts the whole
 * gateway as the tests do (Temporal dev server, acquirer sandbox, the worker processes, the API
 * process, on free ports) and runs BENCH_LAMBDA_COLD cold starts: each a fresh node process
 * (bench/lambda-container.ts) that loads the bundled handler, runs its init and invokes it with API
 * Gateway HTTP API 2.0 events, one at a time as the runtime does: a first POST /v1/payments (base64
 * body, approved test card, automatic capture, so it answers 201 once captured) and GET, then
 * BENCH_LAMBDA_WARM warm ones of each. The long-lived API process on the same stack serves the same
 * requests over HTTP for the ratio.
 *
 * What this is not: Lambda's own runtime (its Runtime API hop, a Firecracker microVM, an arm64
 * vCPU share set by the memory size) or Temporal Cloud and RDS across a network. The figures are
 * the function's own cost on this machine, which is what its size, its init and its code decide.
 *
 * Environment: BENCH_LAMBDA_COLD (default 5), BENCH_LAMBDA_WARM (per cold start, default 30).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startGatewayStack, type GatewayStack } from '../test/helpers/gateway-stack';
import { TEST_CARDS, TEST_CVCS } from '../test/helpers/test-cards';
import { positiveInt } from './bench-env';
import { linkHelperRoot, projectRoot } from './bench-root';
import type { ContainerTimings } from './lambda-container';

const COLD = positiveInt('BENCH_LAMBDA_COLD', 5);
const WARM = positiveInt('BENCH_LAMBDA_WARM', 30);
const MERCHANT = 'm_bench_lambda';
/** Fraud velocity limits out of reach: every payment of the run uses one card and one merchant. */
const UNREACHABLE = '1000000000';
const ZIP_AIM_MB = 5;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ms = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;

/** One cold start in a fresh node process; its timings, or why it failed (never a body). */
function coldStart(root: string, env: NodeJS.ProcessEnv, token: string): Promise<ContainerTimings> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'lambda-container.js')], {
      cwd: root,
      env: { ...env, BENCH_LAMBDA_HANDLER: path.join(root, 'dist', 'lambda', 'handler.js'), BENCH_LAMBDA_TOKEN: token, BENCH_LAMBDA_WARM: String(WARM), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('RESULT '.length)) as ContainerTimings);
      else reject(new Error(`cold start exited ${code}: ${err.split('\n').filter(Boolean).slice(-3).join(' | ')}`));
    });
  });
}

/** The same POST and GET against the long-lived API process over HTTP, one at a time. */
async function httpApi(stack: GatewayStack, token: string, count: number): Promise<{ post: number[]; get: number[] }> {
  const post: number[] = [];
  const get: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const start = performance.now();
    const response = await fetch(`${stack.apiUrl}/v1/payments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': `bench-http-${randomUUID()}` },
      body: JSON.stringify({ amount: 1250, currency: 'USD', card: { number: TEST_CARDS.visa, exp_month: 12, exp_year: 2030, cvc: TEST_CVCS[0] } }),
    });
    const body = (await response.json()) as { id: string };
    post.push(performance.now() - start);
    if (response.status !== 201) throw new Error(`HTTP API POST answered ${response.status}`);
    ids.push(body.id);
  }
  for (const id of ids) {
    const start = performance.now();
    const response = await fetch(`${stack.apiUrl}/v1/payments/${id}`, { headers: { Authorization: `Bearer ${token}` } });
    await response.arrayBuffer();
    get.push(performance.now() - start);
    if (response.status !== 200) throw new Error(`HTTP API GET answered ${response.status}`);
  }
  return { post, get };
}

async function main(): Promise<void> {
  const root = projectRoot();
  linkHelperRoot();
  const zipFile = path.join(root, 'dist', 'lambda.zip');
  const handlerFile = path.join(root, 'dist', 'lambda', 'handler.js');
  if (!fs.existsSync(zipFile) || !fs.existsSync(handlerFile)) throw new Error('dist/lambda is not built: run `npm run build:lambda` (npm run bench:lambda does)');
  const zipMb = fs.statSync(zipFile).size / 1e6;
  const handlerMb = fs.statSync(handlerFile).size / 1e6;

  console.log(`Lambda function benchmark: node ${process.version}, ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} CPUs on the machine`);
  console.log(`bundle: dist/lambda.zip ${zipMb.toFixed(2)} MB (aim ≤ ${ZIP_AIM_MB} MB: ${zipMb <= ZIP_AIM_MB ? 'met' : 'MISSED'}), handler.js ${handlerMb.toFixed(2)} MB unzipped`);

  const stack = await startGatewayStack({ env: { FRAUD_CARD_HOURLY_LIMIT: UNREACHABLE, FRAUD_MERCHANT_MINUTE_LIMIT: UNREACHABLE } });
  try {
    const token = await stack.token(MERCHANT, ['payments:write', 'payments:read']);
    // Warm the stack (server, workers, sandbox) so the first cold start does not pay for theirs.
    await httpApi(stack, token, 10);

    const runs: ContainerTimings[] = [];
    for (let i = 0; i < COLD; i += 1) runs.push(await coldStart(root, stack.stack.env, token));
    const http = await httpApi(stack, token, COLD * WARM);

    const pick = (f: (r: ContainerTimings) => number) => runs.map(f);
    const rows: [string, number[]][] = [
      ['node boot (the runtime, not us)', pick((r) => r.bootMs)],
      ['module load (require the bundle)', pick((r) => r.loadMs)],
      ['init (config, pool, keys, Temporal)', pick((r) => r.initMs)],
      ['init total (load + init)', pick((r) => r.loadMs + r.initMs)],
      ['first POST (cold container)', pick((r) => r.firstPostMs)],
      ['first GET (cold container)', pick((r) => r.firstGetMs)],
      [`warm POST (n=${COLD * WARM})`, runs.flatMap((r) => r.warmPostMs)],
      [`warm GET (n=${COLD * WARM})`, runs.flatMap((r) => r.warmGetMs)],
      [`HTTP API process POST (n=${http.post.length})`, http.post],
      [`HTTP API process GET (n=${http.get.length})`, http.get],
    ];
    console.log('');
    console.log(`${COLD} cold starts, each a fresh node process; ${WARM} warm POSTs and GETs per container, one at a time`);
    console.log(`${'phase'.padEnd(40)}${'p50'.padStart(10)}${'p90'.padStart(10)}${'min'.padStart(10)}${'max'.padStart(10)}`);
    for (const [label, values] of rows) {
      console.log(`${label.padEnd(40)}${ms(percentile(values, 50)).padStart(10)}${ms(percentile(values, 90)).padStart(10)}${ms(Math.min(...values)).padStart(10)}${ms(Math.max(...values)).padStart(10)}`);
    }
    const warmPost = percentile(runs.flatMap((r) => r.warmPostMs), 50);
    const warmGet = percentile(runs.flatMap((r) => r.warmGetMs), 50);
    const init = percentile(pick((r) => r.loadMs + r.initMs), 50);
    console.log('');
    console.log(`ratios: warm POST lambda/HTTP ${(warmPost / percentile(http.post, 50)).toFixed(2)}, warm GET lambda/HTTP ${(warmGet / percentile(http.get, 50)).toFixed(2)}, first POST/warm POST ${(percentile(pick((r) => r.firstPostMs), 50) / warmPost).toFixed(2)}`);
    console.log(
      `lambda: zip ${zipMb.toFixed(2)} MB, init p50 ${ms(init)}, first POST p50 ${ms(percentile(pick((r) => r.firstPostMs), 50))}, first GET p50 ${ms(percentile(pick((r) => r.firstGetMs), 50))}, warm POST p50 ${ms(warmPost)}, warm GET p50 ${ms(warmGet)}`,
    );
  } finally {
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench:lambda failed: ${err.message}`);
    process.exit(1);
  },
);
