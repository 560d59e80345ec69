/**
 * Fraud model benchmark: `npm run bench:fraud` (compiled to dist-bench/, then run with node). Figures, never pass/fail.
 *
 *   1. Replay throughput: the whole shared file (../shared/data/fraud-sim) through the feature pipeline
 *      and the model, as `npm run fraud:score` does (gunzip, parse, features, batched scoring), without
 *      writing the output: transactions/s on the wall clock and per CPU second (one thread).
 *   2. One fraud check in the activity (createFraudActivities → FraudChecker: rules, the two feature
 *      states read, scored, written back, the check and score recorded, one transaction) on SQLite (a WAL
 *      file in a temp dir) and on PostgreSQL (a throwaway cluster from Debian's packages,
 *      test/helpers/postgres.ts): p50, p99 and max over BENCH_N calls after BENCH_WARMUP, for payments of
 *      the shared data's first rows (its cards and terminals, with their history growing).
 *
 * The machines are shared: the figures move with the load (the load average is printed beside them).
 * Environment: BENCH_N (checks per database, default 3000), BENCH_WARMUP (default 500), BENCH_SKIP_REPLAY=1.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createFraudActivities } from '../src/activities/fraud';
import { FEATURE_NAMES } from '../src/fraud/features';
import { FraudChecker } from '../src/fraud/fraud-checker';
import { FraudStore } from '../src/fraud/fraud-store';
import { FraudModel, defaultModelFile } from '../src/fraud/model';
import { ReplayFeatures, readTransactions, type TransactionRow } from '../src/fraud/replay';
import { fraudRulesConfig } from '../src/fraud/rules';
import type { Db } from '../src/storage/db';
import { migrate } from '../src/storage/migrate';
import { PostgresDb } from '../src/storage/postgres-db';
import { SqliteDb } from '../src/storage/sqlite-db';
import { SHARED_DATA } from '../test/helpers/fraud-data';
import { startPostgres } from '../test/helpers/postgres';

const N = positiveInt('BENCH_N', 3_000);
const WARMUP = positiveInt('BENCH_WARMUP', 500);

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
}

const load = () => os.loadavg()[0]!.toFixed(2);

async function replayThroughput(model: FraudModel): Promise<void> {
  const width = FEATURE_NAMES.length;
  const BATCH = 256;
  const batch = new Float64Array(BATCH * width);
  const scores = new Float64Array(BATCH);
  const replay = new ReplayFeatures();
  let n = 0;
  let inBatch = 0;
  let checksum = 0;
  const wall = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for await (const row of readTransactions(SHARED_DATA)) {
    batch.set(replay.features(row), inBatch * width);
    n++;
    if (++inBatch === BATCH) {
      model.scoreBatch(batch, inBatch, scores);
      for (let i = 0; i < inBatch; i++) checksum += scores[i]!;
      inBatch = 0;
    }
  }
  model.scoreBatch(batch, inBatch, scores);
  const seconds = Number(process.hrtime.bigint() - wall) / 1e9;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  console.log(
    `replay (fraud:score pipeline): ${n} transactions in ${seconds.toFixed(1)} s wall = ${Math.round(n / seconds)} tx/s; ` +
      `${Math.round(n / cpuSeconds)} tx per CPU second (one thread); ${replay.size} card and merchant states in memory; load ${load()} (checksum ${checksum.toFixed(3)})`,
  );
}

async function checkLatency(name: string, db: Db, model: FraudModel, rows: TransactionRow[]): Promise<void> {
  const checker = new FraudChecker(new FraudStore(db), { rules: fraudRulesConfig({ sandboxRules: false }), model });
  const activities = createFraudActivities({ checker });
  const env = new MockActivityEnvironment({ taskQueue: 'fraud' }, { logger: new DefaultLogger('ERROR') });
  const times: number[] = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const row = rows[i % rows.length]!;
    const input = {
      paymentId: `pay_bench_${name}_${i}`,
      merchantId: `m_t${row.terminal}`,
      amount: Math.max(1, row.amountMinor),
      currency: 'USD',
      card: { fingerprint: `fp_c${row.customer}`, bin: '400001', last4: '0000', brand: 'visa' },
      cardToken: `tok_c${row.customer}`,
    };
    const started = process.hrtime.bigint();
    await env.run(activities.checkFraud, input);
    if (i >= WARMUP) times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(2);
  console.log(`one fraud check in the activity with the feature-store update, ${name}: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${times[times.length - 1]!.toFixed(2)} ms over ${N} checks; load ${load()}`);
}

async function main(): Promise<void> {
  const model = FraudModel.load(defaultModelFile());
  console.log(`bench:fraud — model ${model.version} (${model.artifact.trees.length} trees), ${os.cpus().length} CPUs, Node ${process.version}`);
  if (process.env.BENCH_SKIP_REPLAY !== '1') await replayThroughput(model);

  const rows: TransactionRow[] = [];
  for await (const row of readTransactions(SHARED_DATA)) {
    rows.push(row);
    if (rows.length === WARMUP + N) break;
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-fraud-'));
  const sqlite = SqliteDb.open(path.join(dir, 'vault.db'));
  try {
    await migrate(sqlite);
    await checkLatency('SQLite', sqlite, model, rows);
  } finally {
    await sqlite.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const server = await startPostgres({ database: 'bench_fraud' });
  const pg = PostgresDb.open(server.url);
  try {
    await migrate(pg);
    await checkLatency('PostgreSQL', pg, model, rows);
  } finally {
    await pg.close();
    await server.stop();
  }
}

main().catch((err: Error) => {
  console.error(`bench:fraud failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
