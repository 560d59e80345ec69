import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { httpApiEvent, resultJson, type LambdaResult } from '../helpers/lambda-events';
import { freePort } from '../helpers/ports';
import { ROOT, startNodeProcess, type RunningProcess } from '../helpers/processes';
import { TEST_CARDS, TEST_CVCS } from '../helpers/test-cards';

/**
 * The BUILT Lambda function (dist/lambda/handler.js) run as Lambda runs it: `npm run lambda:local`
 * (dist/cli/lambda-local.js) starts the runtime interface emulator, which starts the runtime
 * interface client, which loads the handler and fetches each invocation over the Runtime API. The
 * test invokes it through the emulator's Invoke API against the real stack. The emulator's output
 * (it carries the function's log lines) goes to test-output/logs, which the leak scan reads.
 *
 * Skipped with a message only on a machine without the emulator or client; in CI a missing one is
 * a failure, not a skip.
 */
const RIE = path.join(ROOT, '.tools/lambda-rie/bin/aws-lambda-rie');
const RIC = path.join(ROOT, '.tools/lambda-ric/node_modules/.bin/aws-lambda-ric');
const installed = fs.existsSync(RIE) && fs.existsSync(RIC);
const inCi = process.env.CI === 'true';

if (!installed && !inCi) {
  console.warn('aws-lambda-rie or aws-lambda-ric is not installed: run .ci/install-lambda-rie.sh; test/integration/lambda-emulator.test.ts skipped');
}

(installed || inCi ? describe : describe.skip)('the built Lambda function under the runtime interface emulator and client', () => {
  let gateway: GatewayStack | undefined;
  let emulator: RunningProcess | undefined;
  let invocations: string;
  let bearer: string;
  /** The emulator's own log line for each invocation names the request id it assigned. */
  const requestIds = () => [...fs.readFileSync(emulator!.logFile, 'utf8').matchAll(/^START RequestId: ([0-9a-f-]{36})/gm)].map((m) => m[1]!);
  const invoke = async (event: object): Promise<LambdaResult> => {
    const response = await fetch(invocations, { method: 'POST', body: JSON.stringify(event) });
    expect(response.status).toBe(200); // the Invoke API's status; the function's answer is the body
    return (await response.json()) as LambdaResult;
  };

  it('is installed (CI must not silently skip)', () => {
    expect({ rie: fs.existsSync(RIE), ric: fs.existsSync(RIC) }).toEqual({ rie: true, ric: true });
  });

  beforeAll(async () => {
    if (!installed) return;
    // The bundle of the current source: the function under test is the one `npm run build:lambda` ships.
    const built = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli/build-lambda.js')], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    if (built.status !== 0) throw new Error(`build:lambda failed: ${built.stdout}${built.stderr}`);

    gateway = await startGatewayStack();
    bearer = `Bearer ${await gateway.token('m_lambda_rie', ['payments:write', 'payments:read'])}`;
    const port = await freePort();
    invocations = `http://127.0.0.1:${port}/2015-03-31/functions/function/invocations`;
    emulator = startNodeProcess('lambda-emulator', 'cli/lambda-local.js', { ...gateway.stack.env, LOG_LEVEL: 'info', LAMBDA_LOCAL_PORT: String(port) });
    // The emulator starts the client (and so the handler's init) on the first invocation, which waits for it.
    await emulator.waitForOutput(/the emulator serves/, 30_000);
  }, 240_000);

  afterAll(async () => {
    await emulator?.stop('SIGTERM');
    await gateway?.stop();
  }, 60_000);

  let paymentId: string;

  it('creates a payment from a base64 body and reads it back, through the Invoke API', async () => {
    if (!installed) return;
    const created = await invoke(
      httpApiEvent('POST', '/v1/payments', {
        headers: { authorization: bearer, 'idempotency-key': `lambda-rie-${randomUUID()}` },
        body: { amount: 4200, currency: 'USD', card: { number: TEST_CARDS.visa, exp_month: 12, exp_year: 2030, cvc: TEST_CVCS[0] } },
        base64: true,
      }),
    );
    expect(created.statusCode).toBe(201);
    const payment = resultJson(created);
    expect(payment).toMatchObject({ amount: 4200, currency: 'USD', status: 'captured' });
    expect(created.body).not.toContain(TEST_CARDS.visa);
    paymentId = payment.id;

    const read = await invoke(httpApiEvent('GET', `/v1/payments/${paymentId}`, { headers: { authorization: bearer } }));
    expect(read.statusCode).toBe(200);
    expect(resultJson(read)).toMatchObject({ id: paymentId, amount: 4200, status: 'captured' });
  });

  it('answers 401 in the error shape', async () => {
    if (!installed) return;
    const unauthenticated = await invoke(httpApiEvent('GET', `/v1/payments/${paymentId}`));
    expect(unauthenticated.statusCode).toBe(401);
    expect(resultJson(unauthenticated).error).toMatchObject({ type: expect.any(String), code: expect.any(String), message: expect.any(String) });
    expect(unauthenticated.body).not.toMatch(/\bat .*\.(js|ts):\d+/); // no stack trace
  });

  it('puts the request id the emulator assigned on the handler\'s log lines', async () => {
    if (!installed) return;
    const read = await invoke(httpApiEvent('GET', `/v1/payments/${paymentId}`, { headers: { authorization: bearer } }));
    expect(read.statusCode).toBe(200);
    const ids = requestIds();
    expect(ids).toHaveLength(4);
    const last = ids[ids.length - 1]!;
    const completionLines = () =>
      fs
        .readFileSync(emulator!.logFile, 'utf8')
        .split('\n')
        .flatMap((line) => {
          const json = line.slice(line.indexOf('{'));
          try {
            return [JSON.parse(json) as Record<string, unknown>];
          } catch {
            return [];
          }
        })
        .filter((l) => l.msg === 'request completed');
    // The function's stdout and the emulator's own END line reach the emulator's output through
    // different goroutines, in either order (CI stop 20 read the file between them): wait for the
    // last invocation's completion line itself.
    const deadline = Date.now() + 15_000;
    let handlerLines = completionLines();
    while (!handlerLines.some((l) => l.awsRequestId === last) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      handlerLines = completionLines();
    }
    // Every invocation's completion line carries the id the emulator gave it, and no other.
    expect(handlerLines.map((l) => l.awsRequestId)).toEqual(ids);
  });
});
