import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express, { Router, type ErrorRequestHandler } from 'express';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowInfo } from '@temporalio/workflow';
import { AcquirerRejectedError, AcquirerUnavailableError, type AcquirerClient, type AuthorizationResult } from '../../src/acquirer/acquirer-client';
import { createAcquirerActivities } from '../../src/activities/acquirer';
import { httpMetrics, metricsRoute } from '../../src/observability/http-metrics';
import { instrumentActivities } from '../../src/observability/instrument-activities';
import { Metrics, metricsSinks } from '../../src/observability/metrics';
import { startMetricsServer, type MetricsServer } from '../../src/observability/metrics-server';
import { TEST_CARDS, TEST_CVCS } from '../helpers/test-cards';

const PAYMENT_ID = 'pay_0123456789abcdef01234567';
const PAN = TEST_CARDS.visa;

/** The value of one series in a scrape, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every label value in a scrape. */
function labelValues(text: string): string[] {
  return [...text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => m[2]!);
}

async function listen(server: http.Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('HTTP metrics at /metrics', () => {
  const metrics = new Metrics();
  let server: http.Server;
  let base: string;
  let scrape: string;
  let contentType: string | null;

  beforeAll(async () => {
    const app = express();
    app.use(httpMetrics(metrics));
    app.get('/v1/payments/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    app.post('/v1/payments/:id/capture', () => {
      throw new Error('boom');
    });
    app.get('/slow', async (_req, res) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      res.json({ ok: true });
    });
    const admin = Router();
    admin.get('/jobs/:jobId', (_req, res) => {
      res.status(202).end();
    });
    app.use('/admin', admin);
    app.use(metricsRoute(metrics));
    app.use((_req, res) => {
      res.status(404).json({ error: 'not found' });
    });
    const onError: ErrorRequestHandler = (_err, _req, res, _next) => {
      res.status(500).json({ error: 'internal' });
    };
    app.use(onError);
    server = http.createServer(app);
    base = await listen(server);

    for (let i = 0; i < 2; i++) expect((await fetch(`${base}/v1/payments/${PAYMENT_ID}?card=${PAN}`)).status).toBe(200);
    expect((await fetch(`${base}/v1/payments/${PAN}`)).status).toBe(200);
    expect((await fetch(`${base}/v1/payments/${PAYMENT_ID}/capture`, { method: 'POST' })).status).toBe(500);
    expect((await fetch(`${base}/v1/cards/${PAN}/cvc/${TEST_CVCS[0]}?pan=${PAN}`)).status).toBe(404);
    expect((await fetch(`${base}/v1/payments/${PAYMENT_ID}`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${base}/admin/jobs/job_42`)).status).toBe(202);
    // The client gives up before the response: counted as 499 once the server notices.
    await expect(fetch(`${base}/slow`, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 400));

    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    contentType = response.headers.get('content-type');
    scrape = await response.text();
  });

  afterAll(async () => {
    await close(server);
  });

  it('is served in the Prometheus text format', () => {
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(scrape).toContain('# TYPE http_requests_total counter');
    expect(scrape).toContain('# TYPE http_request_duration_seconds histogram');
  });

  it('counts requests by method, route pattern and status', () => {
    expect(sample(scrape, 'http_requests_total{method="GET",route="/v1/payments/:id",status="200"}')).toBe(3);
    expect(sample(scrape, 'http_requests_total{method="POST",route="/v1/payments/:id/capture",status="500"}')).toBe(1);
    expect(sample(scrape, 'http_requests_total{method="GET",route="/admin/jobs/:jobId",status="202"}')).toBe(1);
    expect(sample(scrape, 'http_requests_total{method="GET",route="/slow",status="499"}')).toBe(1);
  });

  it('labels requests no route matched as unmatched, whatever their path', () => {
    expect(sample(scrape, 'http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(sample(scrape, 'http_requests_total{method="DELETE",route="unmatched",status="404"}')).toBe(1);
  });

  it('has latency histograms per route pattern, with buckets', () => {
    expect(sample(scrape, 'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/payments/:id"}')).toBe(3);
    expect(sample(scrape, 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/payments/:id"}')).toBeDefined();
    expect(sample(scrape, 'http_request_duration_seconds_count{method="GET",route="/v1/payments/:id"}')).toBe(3);
    expect(sample(scrape, 'http_request_duration_seconds_sum{method="GET",route="/v1/payments/:id"}')).toBeGreaterThan(0);
    const slow = sample(scrape, 'http_request_duration_seconds_sum{method="GET",route="/slow"}');
    expect(slow).toBeGreaterThan(0.03);
  });

  it('counts its own scrapes under /metrics on the next scrape', async () => {
    const again = await (await fetch(`${base}/metrics`)).text();
    expect(sample(again, 'http_requests_total{method="GET",route="/metrics",status="200"}')).toBe(1);
  });

  it('has Node.js process metrics', () => {
    expect(scrape).toContain('process_cpu_user_seconds_total');
    expect(scrape).toContain('nodejs_eventloop_lag_seconds');
  });

  it('never shows a payment id, a raw path or card data: not in labels, not anywhere', () => {
    for (const secret of [PAYMENT_ID, PAN, 'job_42', '/v1/cards', `"${TEST_CVCS[0]}"`]) expect(scrape).not.toContain(secret);
    const routes = new Set(labelValues(scrape.split('\n').filter((l) => l.startsWith('http_')).join('\n')));
    for (const value of routes) expect(value).not.toMatch(/\d{6,}|pay_/);
  });
});

describe('instrumentActivities', () => {
  function fakeAcquirer(behaviour: () => Promise<{ acquirerRef: string }>): AcquirerClient {
    return {
      authorize: () => Promise.reject(new Error('not used')),
      capture: behaviour,
      void: behaviour,
      refund: behaviour,
      settle: behaviour,
      inquireAuthorization: () => Promise.reject(new Error('not used')),
      inquireMovement: () => Promise.reject(new Error('not used')),
      reverseAuthorization: () => Promise.reject(new Error('not used')),
      settlementReport: () => Promise.reject(new Error('not used')),
    };
  }

  it('counts acquirer movements by operation and outcome, and returns and throws exactly what the activity did', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const input = { paymentId: PAYMENT_ID, authorizationRef: 'auth_1', amount: 1000 };

    const ok = instrumentActivities(createAcquirerActivities({ acquirer: fakeAcquirer(async () => ({ acquirerRef: 'cap_1' })) }), metrics);
    await expect(ok.capturePayment(input)).resolves.toEqual({ acquirerRef: 'cap_1' });
    await expect(ok.settlePayment({ paymentId: PAYMENT_ID, captureRef: 'cap_1' })).resolves.toEqual({ acquirerRef: 'cap_1' });

    const rejected = instrumentActivities(
      createAcquirerActivities({ acquirer: fakeAcquirer(() => Promise.reject(new AcquirerRejectedError('amount_too_large', 'too much'))) }),
      metrics,
    );
    const rejection = await rejected.capturePayment(input).catch((err: unknown) => err);
    expect(rejection).toBeInstanceOf(ApplicationFailure);
    expect(rejection).toMatchObject({ type: 'amount_too_large', nonRetryable: true });

    const unavailable = instrumentActivities(
      createAcquirerActivities({ acquirer: fakeAcquirer(() => Promise.reject(new AcquirerUnavailableError('503'))) }),
      metrics,
    );
    for (let i = 0; i < 3; i++) {
      await expect(unavailable.refundPayment({ paymentId: PAYMENT_ID, captureRef: 'cap_1', amount: 10, refundId: 're_1' })).rejects.toMatchObject({
        type: 'acquirer_unavailable',
        nonRetryable: false,
      });
    }
    await expect(unavailable.voidAuthorization(input)).rejects.toBeInstanceOf(ApplicationFailure);

    const text = await metrics.metricsText();
    expect(sample(text, 'acquirer_calls_total{operation="capture",outcome="succeeded"}')).toBe(1);
    expect(sample(text, 'acquirer_calls_total{operation="settle",outcome="succeeded"}')).toBe(1);
    expect(sample(text, 'acquirer_calls_total{operation="capture",outcome="rejected"}')).toBe(1);
    expect(sample(text, 'acquirer_calls_total{operation="refund",outcome="unavailable"}')).toBe(3);
    expect(sample(text, 'acquirer_calls_total{operation="void",outcome="unavailable"}')).toBe(1);
    // Series the acquirer worker can produce are there from the start, at 0.
    expect(sample(text, 'acquirer_calls_total{operation="settle",outcome="rejected"}')).toBe(0);
    expect(sample(text, 'acquirer_calls_total{operation="capture",outcome="declined"}')).toBeUndefined();
    expect(sample(text, 'acquirer_call_duration_seconds_count{operation="refund",outcome="unavailable"}')).toBe(3);
    expect(text).toMatch(/acquirer_call_duration_seconds_bucket\{le="0\.01",operation="capture",outcome="succeeded"\} 1/);
    for (const secret of [PAYMENT_ID, 'auth_1', 'cap_1', 'too much']) expect(text).not.toContain(secret);
  });

  it('counts authorizations: approved, declined, rejected, unavailable, and failures without an acquirer answer', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const answers: (() => Promise<AuthorizationResult>)[] = [
      async () => ({ outcome: 'approved', acquirerRef: 'auth_1', authorizationCode: '123456' }),
      async () => ({ outcome: 'declined', declineCode: 'insufficient_funds', message: 'Insufficient funds' }),
      async () => ({ outcome: 'declined', declineCode: 'do_not_honor', message: 'Do not honor' }),
      () => Promise.reject(ApplicationFailure.nonRetryable('card expired at the acquirer', 'expired_card')),
      () => Promise.reject(ApplicationFailure.retryable('acquirer timed out', 'acquirer_unavailable')),
      () => Promise.reject(ApplicationFailure.nonRetryable('CVV reference is gone', 'cvv_not_found')),
      () => Promise.reject(new Error('database is locked')),
    ];
    const activities = instrumentActivities({ authorize: (_input: unknown) => answers.shift()!() }, metrics);
    const results: unknown[] = [];
    for (let i = 0; i < 7; i++) results.push(await activities.authorize({}).catch((err: unknown) => err));
    expect(results[1]).toEqual({ outcome: 'declined', declineCode: 'insufficient_funds', message: 'Insufficient funds' });
    expect(results[6]).toEqual(new Error('database is locked'));

    const text = await metrics.metricsText();
    expect(sample(text, 'acquirer_calls_total{operation="authorize",outcome="succeeded"}')).toBe(1);
    expect(sample(text, 'acquirer_calls_total{operation="authorize",outcome="declined"}')).toBe(2);
    expect(sample(text, 'acquirer_calls_total{operation="authorize",outcome="rejected"}')).toBe(1);
    expect(sample(text, 'acquirer_calls_total{operation="authorize",outcome="unavailable"}')).toBe(1);
    expect(sample(text, 'acquirer_calls_total{operation="authorize",outcome="error"}')).toBe(2);
    expect(labelValues(text)).not.toContain('insufficient_funds');
  });

  it('counts fraud decisions by decision, and nothing for a failed check', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const decisions = ['approve', 'approve', 'review', 'decline', 'something-new'];
    const activities = instrumentActivities(
      {
        checkFraud: async (_input: unknown) => {
          const decision = decisions.shift();
          if (!decision) throw ApplicationFailure.retryable('fraud tables unavailable');
          return { decision, reasons: [{ rule: 'velocity', detail: `card ${PAN}` }] };
        },
      },
      metrics,
    );
    for (let i = 0; i < 5; i++) await activities.checkFraud({});
    await expect(activities.checkFraud({})).rejects.toBeInstanceOf(ApplicationFailure);

    const text = await metrics.metricsText();
    expect(sample(text, 'fraud_decisions_total{decision="approve"}')).toBe(2);
    expect(sample(text, 'fraud_decisions_total{decision="review"}')).toBe(1);
    expect(sample(text, 'fraud_decisions_total{decision="decline"}')).toBe(1);
    // An unknown value never becomes a label of its own.
    expect(sample(text, 'fraud_decisions_total{decision="other"}')).toBe(1);
    expect(text).not.toContain('something-new');
    expect(text).not.toContain(PAN);
  });

  it('counts CVV purges by result', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const results = [true, true, false];
    const activities = instrumentActivities(
      {
        purgeCvv: async (_input: { cvvRef: string }) => {
          const purged = results.shift();
          if (purged === undefined) throw new Error('database is locked');
          return { purged };
        },
      },
      metrics,
    );
    for (let i = 0; i < 3; i++) await activities.purgeCvv({ cvvRef: 'cvv_1' });
    await expect(activities.purgeCvv({ cvvRef: 'cvv_1' })).rejects.toThrow('database is locked');

    const text = await metrics.metricsText();
    expect(sample(text, 'cvv_purges_total{result="purged"}')).toBe(2);
    expect(sample(text, 'cvv_purges_total{result="already_gone"}')).toBe(1);
    expect(sample(text, 'cvv_purges_total{result="failed"}')).toBe(1);
    expect(text).not.toContain('cvv_1');
  });

  it('counts a CVV the vault destroyed with the authorization as purged, and no other authorization', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const answers = [{ cvvPurged: true }, {}];
    const activities = instrumentActivities({ authorize: async () => ({ outcome: 'approved', acquirerRef: 'acq_1', ...answers.shift() }) }, metrics);
    await activities.authorize();
    await activities.authorize();
    const text = await metrics.metricsText();
    expect(sample(text, 'cvv_purges_total{result="purged"}')).toBe(1);
    expect(sample(text, 'acquirer_calls_total{operation="authorize",outcome="succeeded"}')).toBe(2);
  });

  it('leaves other activities and values untouched', () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const tokenize = async () => ({ token: 'tok_1' });
    const activities = instrumentActivities({ tokenize, ping: tokenize, version: 3 }, metrics);
    expect(activities.tokenize).toBe(tokenize);
    expect(activities.ping).toBe(tokenize);
    expect(activities.version).toBe(3);
  });
});

describe('payment outcomes (workflow sink) and the CVV sweeper', () => {
  it('counts payments by outcome status, only the status crossing from the workflow', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const sinks = metricsSinks(metrics);
    expect(sinks.metrics.paymentFinished.callDuringReplay).toBe(false);
    const info = { workflowId: PAYMENT_ID, workflowType: 'paymentWorkflow' } as WorkflowInfo;
    for (const status of ['settled', 'settled', 'declined', 'refunded'] as const) await sinks.metrics.paymentFinished.fn(info, status);

    const text = await metrics.metricsText();
    expect(sample(text, 'payments_final_total{status="settled"}')).toBe(2);
    expect(sample(text, 'payments_final_total{status="declined"}')).toBe(1);
    expect(sample(text, 'payments_final_total{status="refunded"}')).toBe(1);
    expect(sample(text, 'payments_final_total{status="reversed"}')).toBe(0);
    expect(sample(text, 'payments_final_total{status="processing"}')).toBeUndefined();
    expect(text).not.toContain(PAYMENT_ID);
  });

  it('writes an acquirer wait and its resolution as log lines naming the counter (the CloudWatch metric filter reads $.metric)', async () => {
    const lines: { level: string; fields: Record<string, string>; msg: string }[] = [];
    const log = { warn: (fields: Record<string, string>, msg: string) => lines.push({ level: 'warn', fields, msg }), info: (fields: Record<string, string>, msg: string) => lines.push({ level: 'info', fields, msg }) };
    const metrics = new Metrics({ defaultMetrics: false });
    const sinks = metricsSinks(metrics, log);
    const info = { workflowId: PAYMENT_ID, workflowType: 'paymentWorkflow' } as WorkflowInfo;
    await sinks.metrics.acquirerWaitStarted.fn(info, 'authorize');
    await sinks.metrics.unknownOutcomeResolved.fn(info, 'authorize', 'inquired');
    expect(lines.map((l) => [l.level, l.fields])).toEqual([
      ['warn', { metric: 'payment_acquirer_waits_total', step: 'authorize' }],
      ['info', { metric: 'payment_unknown_outcomes_resolved_total', step: 'authorize', resolution: 'inquired' }],
    ]);
    expect(JSON.stringify(lines)).not.toContain(PAYMENT_ID);
    const template = fs.readFileSync(path.join(__dirname, '..', '..', 'deploy/aws/template.yaml'), 'utf8');
    for (const metric of ['payment_acquirer_waits_total', 'payment_unknown_outcomes_resolved_total']) expect(template).toContain(`$.metric = "${metric}"`);
  });

  it('counts TTL expiries from the sweeper result', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    expect(sample(await metrics.metricsText(), 'cvv_expiries_total')).toBe(0);
    metrics.recordSweep({ cvvs: ['cvv_a', 'cvv_b'], intakes: 1 });
    metrics.recordSweep({ cvvs: [], intakes: 0 });
    const text = await metrics.metricsText();
    expect(sample(text, 'cvv_expiries_total')).toBe(2);
    expect(sample(text, 'card_intake_expiries_total')).toBe(1);
    expect(text).not.toContain('cvv_a');
  });
});

describe('startMetricsServer (worker processes)', () => {
  let sdk: http.Server;
  let sdkUrl: string;
  const servers: MetricsServer[] = [];

  beforeAll(async () => {
    // Stands in for the Temporal SDK's own Prometheus exporter.
    sdk = http.createServer((req, res) => {
      res.writeHead(req.url === '/metrics' ? 200 : 404, { 'Content-Type': 'text/plain' });
      res.end('# HELP temporal_worker_start_total Count of the number of initialized workers\n# TYPE temporal_worker_start_total counter\ntemporal_worker_start_total{namespace="default",task_queue="gateway-fraud"} 1\n');
    });
    sdkUrl = `${await listen(sdk)}/metrics`;
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await close(sdk);
  });

  async function start(options: Parameters<typeof startMetricsServer>[2]) {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.recordFraudDecision('approve');
    const server = await startMetricsServer(metrics, 0, { host: '127.0.0.1', ...options });
    servers.push(server);
    return `http://127.0.0.1:${server.port}`;
  }

  it('serves the process metrics followed by the Temporal SDK worker metrics', async () => {
    const base = await start({ sdkMetricsUrl: sdkUrl });
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(sample(text, 'fraud_decisions_total{decision="approve"}')).toBe(1);
    expect(sample(text, 'temporal_sdk_metrics_up')).toBe(1);
    expect(sample(text, 'temporal_worker_start_total{namespace="default",task_queue="gateway-fraud"}')).toBe(1);
    expect(text.indexOf('fraud_decisions_total')).toBeLessThan(text.indexOf('temporal_worker_start_total'));
  });

  it('still serves its own metrics when the SDK exporter does not answer', async () => {
    const unreachable = `http://127.0.0.1:${await new Promise<number>((resolve) => {
      const probe = http.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    })}/metrics`;
    const base = await start({ sdkMetricsUrl: unreachable, sdkTimeoutMs: 500 });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(sample(text, 'fraud_decisions_total{decision="approve"}')).toBe(1);
    expect(sample(text, 'temporal_sdk_metrics_up')).toBe(0);
  });

  it('serves only GET /metrics', async () => {
    const base = await start({});
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).not.toContain('temporal_sdk_metrics_up');
    expect((await fetch(`${base}/metrics?x=1`)).status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/metrics`, { method: 'HEAD' })).status).toBe(200);
  });
});
