/**
 * One Lambda container's life, for `npm run bench:lambda` (bench/lambda.ts starts this file in a
 * fresh node process per cold start): load the bundled handler (dist/lambda/handler.js), run its
 * init (what Lambda bills as the init phase: configuration, database pool, payload key, vault
 * intake key, Temporal connection), then invoke it as the runtime does, one event at a time: a
 * first POST and GET (cold), then BENCH_LAMBDA_WARM of each (warm). Prints one `RESULT {json}`
 * line of timings; never a request or response body.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { httpApiEvent, lambdaContext, resultJson, type LambdaResult } from '../test/helpers/lambda-events';
import { TEST_CARDS, TEST_CVCS } from '../test/helpers/test-cards';

interface Bundle {
  initContainer(source: NodeJS.ProcessEnv, logDestination?: { write(line: string): void }): Promise<Container>;
  createLambdaHandler(container: () => Promise<Container>): (event: unknown, context: unknown) => Promise<LambdaResult>;
}
interface Container {
  temporal: { close(): Promise<void> };
  api: { db: { close(): Promise<void> }; authFailures: { close(): Promise<void> } };
}

export interface ContainerTimings {
  bootMs: number;
  loadMs: number;
  initMs: number;
  firstPostMs: number;
  firstGetMs: number;
  warmPostMs: number[];
  warmGetMs: number[];
}

async function main(): Promise<void> {
  const handlerFile = process.env.BENCH_LAMBDA_HANDLER!;
  const bearer = `Bearer ${process.env.BENCH_LAMBDA_TOKEN!}`;
  const warm = Number(process.env.BENCH_LAMBDA_WARM ?? '30');

  // performance.now() counts from this process's start: node's own boot, before any of ours.
  const bootMs = performance.now();
  let t = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle is loaded by path, as the runtime loads it
  const bundle = require(handlerFile) as Bundle;
  const loadMs = performance.now() - t;
  t = performance.now();
  // Log lines are dropped: the figures are what this process reports.
  const container = await bundle.initContainer(process.env, { write: () => undefined });
  const initMs = performance.now() - t;
  const handle = bundle.createLambdaHandler(async () => container);

  const timed = async (event: unknown, expected: number): Promise<{ ms: number; id?: string }> => {
    const start = performance.now();
    const result = await handle(event, lambdaContext(30_000));
    const ms = performance.now() - start;
    if (result.statusCode !== expected) throw new Error(`expected ${expected}, got ${result.statusCode} (${String(resultJson(result)?.error?.code ?? '')})`);
    return { ms, id: resultJson(result).id as string | undefined };
  };
  const post = () =>
    timed(
      httpApiEvent('POST', '/v1/payments', {
        headers: { authorization: bearer, 'idempotency-key': `bench-lambda-${randomUUID()}` },
        body: { amount: 1250, currency: 'USD', card: { number: TEST_CARDS.visa, exp_month: 12, exp_year: 2030, cvc: TEST_CVCS[0] } },
        base64: true,
      }),
      201,
    );
  const get = (id: string) => timed(httpApiEvent('GET', `/v1/payments/${id}`, { headers: { authorization: bearer } }), 200);

  const first = await post();
  const firstGet = await get(first.id!);
  const warmPostMs: number[] = [];
  const warmGetMs: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < warm; i += 1) {
    const created = await post();
    warmPostMs.push(created.ms);
    ids.push(created.id!);
  }
  for (const id of ids) warmGetMs.push((await get(id)).ms);

  const timings: ContainerTimings = { bootMs, loadMs, initMs, firstPostMs: first.ms, firstGetMs: firstGet.ms, warmPostMs, warmGetMs };
  console.log(`RESULT ${JSON.stringify(timings)}`);
  await container.temporal.close().catch(() => undefined);
  await container.api.authFailures.close().catch(() => undefined);
  await container.api.db.close().catch(() => undefined);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`lambda container failed: ${err.message}`);
    process.exit(1);
  },
);
