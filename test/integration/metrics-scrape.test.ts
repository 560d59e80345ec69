import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ALL_QUEUES, type TaskQueueName } from '../../src/temporal/task-queues';
import { ROOT } from '../helpers/processes';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { cardSecrets, TEST_CARDS } from '../helpers/test-cards';

/**
 * The Prometheus endpoints of a running gateway, scraped over HTTP (DESIGN.md, observability): the
 * API's and each worker's METRICS_PORT (never the API's public port), after a handful of payments with known
 * outcomes. Every series the dashboards rely on is there with the counts those payments imply,
 * the Temporal SDK's own worker metrics are merged into each worker's scrape, and no scrape holds
 * a payment id, an idempotency key or card data.
 */

/** One sample of a Prometheus text exposition. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL_PAIR)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of every series of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

interface Scrape {
  target: string;
  text: string;
  samples: Sample[];
}

/** What one expectation on a scrape came to: undefined when it holds, else a line for the failure message. */
type Check = (scrape: Scrape) => string | undefined;

function atLeast(name: string, labels: Record<string, string>, min: number): Check {
  return ({ target, samples }) => {
    const value = valueOf(samples, name, labels);
    return value !== undefined && value >= min ? undefined : `${target}: ${name}${JSON.stringify(labels)} is ${value ?? 'absent'}, want ≥ ${min}`;
  };
}

function present(name: string, labels: Record<string, string> = {}): Check {
  return atLeast(name, labels, 0);
}

/** At least `min` distinct series whose name matches `pattern` (the Temporal SDK's, whose exact set varies by version). */
function seriesMatching(pattern: RegExp, min: number): Check {
  return ({ target, samples }) => {
    const names = new Set(samples.filter((s) => pattern.test(s.name)).map((s) => s.name));
    return names.size >= min ? undefined : `${target}: ${names.size} metric names match ${pattern}, want ≥ ${min}`;
  };
}

/**
 * The metric names in a PromQL expression: what is left once label matchers, grouping labels,
 * ranges, numbers and strings are gone, without the functions (a name before a parenthesis) and
 * the operators that are words.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/"[^"]*"/g, ' ');
  const words = new Set(['and', 'or', 'unless', 'bool', 'offset']);
  return [...stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)].filter((m) => !m[2] && !words.has(m[1]!)).map((m) => m[1]!);
}

const cvcFor = (number: string) => (number.startsWith('37') ? '7319' : '731');

/** The payments of the test and what each must come to (README, "Test cards"). */
const PAYMENTS = [
  { name: 'approved', card: TEST_CARDS.visa, status: 'captured' },
  { name: 'declined', card: TEST_CARDS.declinedGeneric, status: 'declined' },
  { name: 'fraud declined', card: TEST_CARDS.fraudBlocklisted, status: 'declined' },
  { name: 'capture fails', card: TEST_CARDS.captureFails, status: 'failed' },
] as const;

/**
 * Every worker's scrape: the Temporal SDK's series re-served behind ours, labelled with this
 * worker's task queue (so one scrape target per worker really is that worker), and counting the
 * work it did: workflow tasks on the payments queue, activity executions on the others.
 */
const sdkChecks = (queue: TaskQueueName): Check[] => [
  atLeast('temporal_sdk_metrics_up', {}, 1),
  seriesMatching(/^temporal_/, 5),
  present('temporal_worker_task_slots_available', { task_queue: queue }),
  queue === 'payments'
    ? atLeast('temporal_workflow_completed_total', { task_queue: queue, workflow_type: 'paymentWorkflow' }, 3) // the two declines and the failure
    : atLeast('temporal_activity_execution_latency_seconds_count', { task_queue: queue }, 1),
];

/** Per worker: the series its queue's work must have produced. */
const WORKER_CHECKS: Record<TaskQueueName, Check[]> = {
  // Outcome statuses only (the workflow's FINAL_OR_DONE): `captured` is not one, settlement is at the cutoff.
  payments: [
    atLeast('payments_final_total', { status: 'declined' }, 2), // the generic decline and the fraud decline
    atLeast('payments_final_total', { status: 'failed' }, 1), // the failed capture
    present('payments_final_total', { status: 'settled' }),
  ],
  fraud: [
    atLeast('fraud_decisions_total', { decision: 'approve' }, 3),
    atLeast('fraud_decisions_total', { decision: 'decline' }, 1),
    present('fraud_decisions_total', { decision: 'review' }),
    // The model: every payment scored, decisions by outcome, and the version it scores with.
    atLeast('fraud_model_score_count', {}, 3),
    atLeast('fraud_model_decisions_total', { decision: 'approve' }, 3),
    atLeast('fraud_model_info', {}, 1),
  ],
  // The vault worker authorizes (it alone can read the card) and destroys the CVV.
  vault: [
    atLeast('acquirer_calls_total', { operation: 'authorize', outcome: 'succeeded' }, 2), // approved, capture fails
    atLeast('acquirer_calls_total', { operation: 'authorize', outcome: 'declined' }, 1),
    atLeast('acquirer_call_duration_seconds_count', { operation: 'authorize' }, 3),
    atLeast('cvv_purges_total', { result: 'purged' }, PAYMENTS.length), // every payment, the fraud decline too
    present('cvv_expiries_total'),
  ],
  // The acquirer worker moves money by reference: capture, and the void that compensates a failed capture.
  acquirer: [
    atLeast('acquirer_calls_total', { operation: 'capture', outcome: 'succeeded' }, 1),
    atLeast('acquirer_calls_total', { operation: 'capture', outcome: 'rejected' }, 1),
    atLeast('acquirer_calls_total', { operation: 'void', outcome: 'succeeded' }, 1),
    present('acquirer_calls_total', { operation: 'settle', outcome: 'succeeded' }),
    atLeast('acquirer_call_duration_seconds_count', { operation: 'capture' }, 2),
  ],
  // The records worker writes every payment's record at its transitions.
  records: [atLeast('payment_record_writes_total', { result: 'applied' }, PAYMENTS.length), present('payment_record_writes_total', { result: 'gap' })],
};

describe('GET /metrics on the API and on every worker (real dev server, workers, acquirer sandbox and API processes)', () => {
  let gateway: GatewayStack;
  const runTag = Date.now().toString(36);
  const paymentIds: string[] = [];
  const idempotencyKeys: string[] = [];
  let api: Scrape;
  let workers: Map<TaskQueueName, Scrape>;

  const scrape = async (target: string, url: string): Promise<Scrape> => {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${target}: GET ${url} answered ${response.status}: ${text.slice(0, 200)}`);
    if (!/^text\/plain/.test(response.headers.get('content-type') ?? '')) throw new Error(`${target}: Content-Type ${response.headers.get('content-type')}`);
    return { target, text, samples: parseExposition(text) };
  };
  const workerUrl = (queue: TaskQueueName) => `http://127.0.0.1:${gateway.stack.metricsPorts.get(queue)}/metrics`;
  const scrapeAll = async () => {
    const [apiScrape, ...workerScrapes] = await Promise.all([scrape('api', gateway.apiMetricsUrl!), ...ALL_QUEUES.map((q) => scrape(`worker:${q}`, workerUrl(q)))]);
    return { api: apiScrape!, workers: new Map(ALL_QUEUES.map((q, i) => [q, workerScrapes[i]!])) };
  };

  const apiChecks = (): Check[] => [
    atLeast('http_requests_total', { method: 'POST', route: '/v1/payments', status: '201' }, PAYMENTS.length),
    atLeast('http_requests_total', { method: 'GET', route: '/v1/payments/:id', status: '200' }, PAYMENTS.length),
    atLeast('http_request_duration_seconds_bucket', { method: 'POST', route: '/v1/payments', le: '+Inf' }, PAYMENTS.length),
    atLeast('http_request_duration_seconds_count', { method: 'POST', route: '/v1/payments' }, PAYMENTS.length),
    present('http_request_duration_seconds_sum', { method: 'POST', route: '/v1/payments' }),
  ];
  const problems = (scrapes: { api: Scrape; workers: Map<TaskQueueName, Scrape> }) => [
    ...apiChecks().map((check) => check(scrapes.api)),
    ...ALL_QUEUES.flatMap((q) => [...sdkChecks(q), ...WORKER_CHECKS[q]].map((check) => check(scrapes.workers.get(q)!))),
  ].filter((p): p is string => p !== undefined);

  beforeAll(async () => {
    // Without sales, so the acquirer worker makes captures of its own and every series of its has samples.
    gateway = await startGatewayStack({ metrics: true, env: { ACQUIRER_SALE: 'false' } });
    expect([...gateway.stack.metricsPorts.keys()].sort()).toEqual([...ALL_QUEUES].sort());

    const results = await Promise.all(
      PAYMENTS.map((p, i) => {
        const key = `metrics-${runTag}-${i}`;
        idempotencyKeys.push(key);
        return gateway.request('POST', '/v1/payments', {
          headers: { 'Idempotency-Key': key },
          body: { amount: 2000, currency: 'USD', card: { number: p.card, exp_month: 12, exp_year: 2030, cvc: cvcFor(p.card) } },
        });
      }),
    );
    expect(results.map((r) => [r.status, r.body?.status])).toEqual(PAYMENTS.map((p) => [201, p.status]));
    for (const r of results) paymentIds.push(String(r.body.id));
    // Reads by id: the route label must be the pattern, never the id in the path.
    const reads = await Promise.all(paymentIds.map((id) => gateway.request('GET', `/v1/payments/${id}`)));
    expect(reads.map((r) => r.status)).toEqual(paymentIds.map(() => 200));

    // Workers record after the activity or workflow task completes, the SDK exports on its own
    // schedule: scrape until every expectation holds or the deadline passes.
    const deadline = Date.now() + 30_000;
    let scrapes = await scrapeAll();
    while (problems(scrapes).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      scrapes = await scrapeAll();
    }
    api = scrapes.api;
    workers = scrapes.workers;
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
  }, 60_000);

  it('the API serves its metrics on METRICS_PORT only: the public API port answers 404 for /metrics', async () => {
    expect(gateway.apiMetricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(gateway.apiMetricsUrl).not.toContain(gateway.apiUrl);
    const onApiPort = await fetch(`${gateway.apiUrl}/metrics`);
    expect(onApiPort.status).toBe(404);
    expect(await onApiPort.text()).not.toMatch(/http_requests_total/);
  });

  it('the API counts and times requests by method, route pattern and status', () => {
    expect(apiChecks().map((check) => check(api)).filter(Boolean)).toEqual([]);
    // Only route patterns as labels: never a raw path with an id in it.
    const routes = new Set(api.samples.filter((s) => s.name === 'http_requests_total').map((s) => s.labels.route));
    for (const route of routes) expect(route).toMatch(/^(\/[\w-]*|\/[\w/:-]+|unmatched)$/);
    expect(routes.has('/v1/payments/:id')).toBe(true);
  });

  it.each(ALL_QUEUES)('worker:%s serves its own series and the Temporal SDK worker metrics on its METRICS_PORT', (queue) => {
    const scrape = workers.get(queue)!;
    expect([...sdkChecks(queue), ...WORKER_CHECKS[queue]].map((check) => check(scrape)).filter(Boolean)).toEqual([]);
    // Only this worker's queue: the ports of the stack's workers are really distinct.
    const queues = new Set(scrape.samples.map((s) => s.labels.task_queue).filter(Boolean));
    expect([...queues]).toEqual([queue]);
  });

  it('every scrape is one valid exposition: the merged SDK series repeat none of ours', () => {
    for (const { target, text } of [api, ...workers.values()]) {
      const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
      const repeated = families.filter((name, i) => families.indexOf(name) !== i);
      expect({ target, repeated }).toEqual({ target, repeated: [] });
    }
  });

  it('each process shows only the series it can record', () => {
    expect(valueOf(api.samples, 'acquirer_calls_total')).toBeUndefined();
    expect(valueOf(workers.get('acquirer')!.samples, 'http_requests_total')).toBeUndefined();
    expect(valueOf(workers.get('acquirer')!.samples, 'acquirer_calls_total', { operation: 'authorize' })).toBeUndefined();
    expect(valueOf(workers.get('vault')!.samples, 'acquirer_calls_total', { operation: 'capture' })).toBeUndefined();
    expect(valueOf(workers.get('fraud')!.samples, 'acquirer_calls_total')).toBeUndefined();
  });

  it('every metric the Grafana dashboard and the Prometheus alert rules name is exported by the gateway', () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/monitoring/grafana/dashboards/card-gateway.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const rules = parse(fs.readFileSync(path.join(ROOT, 'deploy/monitoring/prometheus/alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const expressions = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr))];
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(12);
    const named = new Set(expressions.flatMap(metricNames));
    // `up` is Prometheus's own, per scrape target.
    named.delete('up');
    expect(named.size).toBeGreaterThanOrEqual(15);
    const exported = new Set([api, ...workers.values()].flatMap((scrape) => scrape.samples.map((sample) => sample.name)));
    expect([...named].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('no scrape holds a payment id, an idempotency key, a card number or a CVC', () => {
    expect(paymentIds).toHaveLength(PAYMENTS.length);
    const forbidden = [...paymentIds, ...idempotencyKeys, ...cardSecrets()];
    for (const { target, text } of [api, ...workers.values()]) {
      expect({ target, leaked: forbidden.filter((secret) => text.includes(secret)) }).toEqual({ target, leaked: [] });
      expect({ target, payIds: text.match(/pay_[0-9a-f]+/g) ?? [] }).toEqual({ target, payIds: [] });
      // Label values come from fixed lists: none is long enough to be a card number.
      const longDigits = [...text.matchAll(/="([^"]*\d{12,}[^"]*)"/g)].map((m) => m[1]);
      expect({ target, longDigits }).toEqual({ target, longDigits: [] });
    }
  });
});
