import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createLambdaHandler, initContainer, type LambdaContainer } from '../../src/api/lambda';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { httpApiEvent, lambdaContext as context, resultJson, type LambdaResult as Result } from '../helpers/lambda-events';
import { TEST_CARDS, TEST_CVCS } from '../helpers/test-cards';

/**
 * The Lambda front door (src/api/lambda.ts), invoked in-process the way the Lambda runtime
 * invokes it, with API Gateway HTTP API 2.0 (and ALB) events, against the real stack: Temporal dev
 * server, worker processes, acquirer sandbox. One container serves every invocation of the file.
 */

/** ESTABLISHED TCP connections from this process to `port` (from /proc: real sockets, not a counter). */
function connectionsTo(port: number): number {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const link = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
    } catch {
      // closed meanwhile
    }
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[2]!.endsWith(`:${hexPort}`) && f[3] === '01' && inodes.has(f[9]!)) count += 1;
    }
  }
  return count;
}

describe('the API as a Lambda function (API Gateway HTTP API 2.0 and ALB events)', () => {
  let gateway: GatewayStack;
  let container: LambdaContainer;
  let handle: ReturnType<typeof createLambdaHandler>;
  const logLines: Record<string, unknown>[] = [];
  let bearer: string;
  const invoke = async (event: object, ctx = context()) => (await handle(event, ctx)) as Result;
  const json = resultJson;
  const temporalPort = () => Number(gateway.stack.server.address.split(':').pop());

  beforeAll(async () => {
    gateway = await startGatewayStack();
    bearer = `Bearer ${await gateway.token('m_lambda', ['payments:write', 'payments:read'])}`;
    handle = createLambdaHandler(async () => (container = await initContainer({ ...gateway.stack.env, LOG_LEVEL: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) })));
  }, 180_000);

  afterAll(async () => {
    await container?.temporal.close().catch(() => undefined);
    await container?.api.authFailures.close().catch(() => undefined);
    await container?.api.db.close().catch(() => undefined);
    await gateway?.sandbox.setFaults({}).catch(() => undefined);
    await gateway?.stop();
  }, 60_000);

  let paymentId: string;

  it('creates a payment from a base64-encoded body, reads it, and lists with a query string', async () => {
    const ctx = context();
    const created = await invoke(
      httpApiEvent('POST', '/v1/payments', {
        headers: { authorization: bearer, 'idempotency-key': `lambda-${randomUUID()}` },
        body: { amount: 1250, currency: 'USD', card: { number: TEST_CARDS.visa, exp_month: 12, exp_year: 2030, cvc: TEST_CVCS[0] } },
        base64: true,
      }),
      ctx,
    );
    expect(created.statusCode).toBe(201);
    const payment = json(created);
    expect(payment.status).toBe('captured');
    expect(created.body).not.toContain(TEST_CARDS.visa);
    paymentId = payment.id;
    // The Lambda request id is on every line the invocation logged.
    const lines = logLines.filter((l) => l.awsRequestId === ctx.awsRequestId);
    expect(lines.length).toBeGreaterThan(0);
    // The request's own line says completed (not pino-http's "aborted": serverless-http ends the response inside res.end()).
    expect(lines.filter((l) => l.msg === 'request completed')).toHaveLength(1);
    expect(logLines.filter((l) => l.msg === 'request aborted')).toEqual([]);
    expect(logLines.filter((l) => l.msg === 'request completed').every((l) => typeof l.awsRequestId === 'string')).toBe(true);

    const read = await invoke(httpApiEvent('GET', `/v1/payments/${paymentId}`, { headers: { authorization: bearer } }));
    expect(read.statusCode).toBe(200);
    expect(json(read)).toMatchObject({ id: paymentId, amount: 1250, status: 'captured' });

    const listed = await invoke(httpApiEvent('GET', '/v1/payments', { headers: { authorization: bearer }, query: 'limit=1&status=captured' }));
    expect(listed.statusCode).toBe(200);
    const list = json(listed);
    expect(list.object).toBe('list');
    expect(list.data).toHaveLength(1);
    expect(list.data[0].status).toBe('captured');
  });

  it('answers 401 and 400 in the error shape', async () => {
    const unauthenticated = await invoke(httpApiEvent('GET', `/v1/payments/${paymentId}`));
    expect(unauthenticated.statusCode).toBe(401);
    expect(json(unauthenticated).error).toMatchObject({ type: expect.any(String), code: expect.any(String), message: expect.any(String) });

    const bad = await invoke(httpApiEvent('POST', '/v1/payments', { headers: { authorization: bearer, 'idempotency-key': `lambda-${randomUUID()}` }, body: { amount: -5, currency: 'USD' } }));
    expect(bad.statusCode).toBe(400);
    expect(json(bad).error).toMatchObject({ type: 'invalid_request_error', code: expect.any(String), message: expect.any(String), param: expect.any(String) });
    expect(bad.body).not.toMatch(/\bat .*\.(js|ts):\d+/); // no stack trace
  });

  it('serves an ALB event too', async () => {
    const read = await invoke({
      requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef' } },
      httpMethod: 'GET',
      path: `/v1/payments/${paymentId}`,
      queryStringParameters: {},
      headers: { authorization: bearer, host: 'api.example.test', 'x-forwarded-for': '198.51.100.8' },
      body: '',
      isBase64Encoded: false,
    });
    expect(read.statusCode).toBe(200);
    expect(json(read).id).toBe(paymentId);
  });

  it('reuses its Temporal connection across invocations: one connection for the container', async () => {
    const before = connectionsTo(temporalPort());
    for (let i = 0; i < 2; i++) {
      const read = await invoke(httpApiEvent('GET', `/v1/payments/${paymentId}`, { headers: { authorization: bearer } }));
      expect(read.statusCode).toBe(200);
    }
    expect(container.temporal.connectionsOpened).toBe(1);
    // The container's connection is open (grpc-js may share its socket with the test's own client
    // to the same address) and the two invocations added none.
    expect(before).toBeGreaterThanOrEqual(1);
    expect(connectionsTo(temporalPort())).toBe(before);
  });

  it('answers 202 before the invocation would time out when the acquirer hangs', async () => {
    await gateway.sandbox.setFaults({ hangRate: 1, hangMs: 20_000, operations: ['authorize'] });
    try {
      const started = Date.now();
      const answer = await invoke(
        httpApiEvent('POST', '/v1/payments', {
          headers: { authorization: bearer, 'idempotency-key': `lambda-${randomUUID()}` },
          body: { amount: 990, currency: 'USD', card: { number: TEST_CARDS.visa, exp_month: 12, exp_year: 2030, cvc: TEST_CVCS[0] } },
        }),
        context(6_000),
      );
      expect(answer.statusCode).toBe(202);
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      await gateway.sandbox.setFaults({});
    }
  });

  it('refuses a bad configuration at init, naming the variable, and SQLite in production', async () => {
    await expect(initContainer({ ...gateway.stack.env, AUTHORIZATION_WAIT_MS: 'soon' })).rejects.toThrow(/AUTHORIZATION_WAIT_MS/);
    await expect(initContainer({ ...gateway.stack.env, NODE_ENV: 'production', DATABASE_URL: '' })).rejects.toThrow(/DATABASE_URL must be set to a postgres:\/\/ URL with NODE_ENV=production/);
  });
});
