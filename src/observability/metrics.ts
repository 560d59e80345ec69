import { MISMATCH_KINDS, type MismatchKind } from '../reconciliation/reconcile';

const WEBHOOK_OUTCOMES = ['delivered', 'failed', 'endpoint_disabled', 'event_gone'] as const;
import type { RecordWriteResult } from '../records/record-write';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InjectedSinks } from '@temporalio/worker';
import type { Sinks } from '@temporalio/workflow';
import type { FraudDecision } from '../fraud/rules';
import { PAYMENT_STATUSES, type PaymentStatus } from '../workflows/payment/lifecycle';
import { ACQUIRER_STEPS, type AcquirerStep } from '../workflows/payment/state';

/**
 * The gateway's own Prometheus metrics, one `Metrics` per process (the API and each worker serve
 * their own). Every label value comes from a short, fixed list: a route pattern, a status, an
 * outcome. Never a payment id, a reference or card data (DESIGN.md §3, invariant 1): the
 * recording methods below map anything unexpected to `other` instead of passing it through.
 */

export { PAYMENT_STATUSES };

export const FRAUD_DECISIONS = ['approve', 'review', 'decline'] as const satisfies readonly FraudDecision['decision'][];

/** The acquirer operations, named after the acquirer client's methods. */
export const ACQUIRER_OPERATIONS = ['authorize', 'capture', 'void', 'refund', 'settle'] as const;
export type AcquirerOperation = (typeof ACQUIRER_OPERATIONS)[number];

/**
 * What one acquirer call came to:
 * - `succeeded`: approved (authorize) or the movement was made;
 * - `declined`: the acquirer answered with a decline (authorize only: a decline is an answer);
 * - `rejected`: the acquirer refused for good (non-retryable, e.g. amount above the authorized);
 * - `unavailable`: timeout, 5xx, connection refused (Temporal retries: one count per attempt);
 * - `error`: failed without an acquirer answer (card or CVV reference gone, database, bug).
 */
export const ACQUIRER_OUTCOMES = ['succeeded', 'declined', 'rejected', 'unavailable', 'error'] as const;
export type AcquirerOutcome = (typeof ACQUIRER_OUTCOMES)[number];


/**
 * How an unknown outcome became known (DESIGN.md §4a):
 * - `inquired`: the status inquiry found the acquirer's answer;
 * - `resent`: the inquiry found nothing, and the call was sent again with the same key;
 * - `reversed`: an authorization the acquirer never answered was reversed (timeout reversal).
 */
export const UNKNOWN_OUTCOME_RESOLUTIONS = ['inquired', 'resent', 'reversed'] as const;
export type UnknownOutcomeResolution = (typeof UNKNOWN_OUTCOME_RESOLUTIONS)[number];

/** `purged`: this call destroyed the CVV; `already_gone`: purged before or expired; `failed`: the purge failed (retried). */
export const CVV_PURGE_RESULTS = ['purged', 'already_gone', 'failed'] as const;
export type CvvPurgeResult = (typeof CVV_PURGE_RESULTS)[number];

/** HTTP methods kept as they are; any other method is counted as `OTHER`. */
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Seconds. The payment POST may wait up to AUTHORIZATION_WAIT_MS (10 s by default) for the decision. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30];
/** Seconds. The acquirer client gives up after 10 s. */
const ACQUIRER_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];

export interface MetricsOptions {
  /**
   * Labels on every series of this registry, e.g. `{ service: 'worker:vault' }`. Constant values
   * only; Prometheus usually adds `job` and `instance` itself.
   */
  defaultLabels?: Record<string, string>;
  /** Node.js process metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

export class Metrics {
  /** This process's registry; not prom-client's global one, so tests and processes never share series. */
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern (never the raw path) and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to the end of its response, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });

  readonly paymentsFinal = new Counter({
    name: 'payments_final_total',
    help:
      'Payments reaching an outcome status (declined, canceled, failed, reversed, settled, refunded, partially_refunded). ' +
      'A settled payment later refunded counts under both.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly fraudDecisions = new Counter({
    name: 'fraud_decisions_total',
    help: 'Fraud checks answered, by decision (approve, review, decline).',
    labelNames: ['decision'] as const,
    registers: [this.registry],
  });

  readonly fraudScores = new Histogram({
    name: 'fraud_model_score',
    help: 'Fraud scores (probability of fraud, 0 to 1) given by the model, by model version.',
    labelNames: ['model_version'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99],
    registers: [this.registry],
  });

  readonly fraudModelDecisions = new Counter({
    name: 'fraud_model_decisions_total',
    help: 'Fraud checks scored by the model, by final decision (rules and model together) and model version.',
    labelNames: ['decision', 'model_version'] as const,
    registers: [this.registry],
  });

  readonly fraudModelInfo = new Gauge({
    name: 'fraud_model_info',
    help: 'The fraud model this worker scores with (1 for its version).',
    labelNames: ['model_version'] as const,
    registers: [this.registry],
  });

  readonly acquirerCalls = new Counter({
    name: 'acquirer_calls_total',
    help: 'Calls to the acquirer (one per activity attempt), by operation and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly acquirerDuration = new Histogram({
    name: 'acquirer_call_duration_seconds',
    help: 'Duration of calls to the acquirer (one per activity attempt), by operation and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    buckets: ACQUIRER_BUCKETS,
    registers: [this.registry],
  });

  readonly acquirerWaits = new Counter({
    name: 'payment_acquirer_waits_total',
    help:
      'Money steps whose outcome was unknown after their retries (answer lost, late, or no answer), so the payment ' +
      'waited for the acquirer instead of deciding; by step. Payments waiting now: search attribute AwaitingAcquirer.',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });

  readonly unknownOutcomesResolved = new Counter({
    name: 'payment_unknown_outcomes_resolved_total',
    help: 'Unknown outcomes made known, by step and how (inquired, resent, reversed).',
    labelNames: ['step', 'resolution'] as const,
    registers: [this.registry],
  });

  readonly cvvPurges = new Counter({
    name: 'cvv_purges_total',
    help: 'CVV purges after authorization, by result (purged, already_gone, failed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly cvvExpiries = new Counter({
    name: 'cvv_expiries_total',
    help: 'CVVs destroyed by the time-to-live sweeper because no payment purged them in time.',
    registers: [this.registry],
  });

  readonly recordWrites = new Counter({
    name: 'payment_record_writes_total',
    help: 'Writes of payment records by the records worker, by result (applied; stale: a retry or late write, nothing changed; gap: resent whole).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly reconciliationMismatches = new Counter({
    name: 'reconciliation_mismatches_total',
    help: 'Mismatches the daily reconciliation found between the acquirer\'s settlement report and the merchant ledger, by kind (each counted once, when first found). Alert on any increase.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome (delivered; failed: the endpoint did not answer 2xx in time, retried on the schedule; endpoint_disabled: disabled after 5 days of failures, or deleted). Alert on a rising failed rate.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly intakeExpiries = new Counter({
    name: 'card_intake_expiries_total',
    help: 'Sealed cards (intakes) destroyed by the time-to-live sweeper because no payment tokenized them in time.',
    registers: [this.registry],
  });

  constructor(options: MetricsOptions = {}) {
    if (options.defaultLabels) this.registry.setDefaultLabels(options.defaultLabels);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The Content-Type of `metricsText()`: Prometheus text exposition 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every series of this registry in Prometheus text format. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  recordHttpRequest(method: string, route: string, status: number, seconds: number): void {
    const m = HTTP_METHODS.has(method.toUpperCase()) ? method.toUpperCase() : 'OTHER';
    this.httpRequests.inc({ method: m, route, status: String(status) });
    this.httpDuration.observe({ method: m, route }, seconds);
  }

  recordPaymentFinal(status: string): void {
    this.paymentsFinal.inc({ status: oneOf(PAYMENT_STATUSES, status) });
  }

  recordFraudDecision(decision: string): void {
    this.fraudDecisions.inc({ decision: oneOf(FRAUD_DECISIONS, decision) });
  }

  /** The model version is the loaded artifact's (validated `[A-Za-z0-9._-]+`), one value per process. */
  initFraudModel(modelVersion: string): void {
    this.fraudModelInfo.set({ model_version: modelVersion }, 1);
    for (const decision of FRAUD_DECISIONS) this.fraudModelDecisions.inc({ decision, model_version: modelVersion }, 0);
  }

  recordFraudScore(score: number, decision: string, modelVersion: string): void {
    this.fraudScores.observe({ model_version: modelVersion }, score);
    this.fraudModelDecisions.inc({ decision: oneOf(FRAUD_DECISIONS, decision), model_version: modelVersion });
  }

  recordAcquirerCall(operation: AcquirerOperation, outcome: AcquirerOutcome, seconds?: number): void {
    const labels = { operation: oneOf(ACQUIRER_OPERATIONS, operation), outcome: oneOf(ACQUIRER_OUTCOMES, outcome) };
    this.acquirerCalls.inc(labels);
    if (seconds !== undefined) this.acquirerDuration.observe(labels, seconds);
  }

  recordCvvPurge(result: CvvPurgeResult): void {
    this.cvvPurges.inc({ result: oneOf(CVV_PURGE_RESULTS, result) });
  }

  recordRecordWrite(result: RecordWriteResult): void {
    this.recordWrites.inc({ result: oneOf(RECORD_WRITE_RESULTS, result) });
  }

  initRecordWrites(): void {
    for (const result of RECORD_WRITE_RESULTS) this.recordWrites.inc({ result }, 0);
    for (const kind of MISMATCH_KINDS) this.reconciliationMismatches.inc({ kind }, 0);
    for (const outcome of WEBHOOK_OUTCOMES) this.webhookDeliveries.inc({ outcome }, 0);
  }

  recordWebhookDelivery(outcome: string): void {
    this.webhookDeliveries.inc({ outcome: oneOf(WEBHOOK_OUTCOMES, outcome) });
  }

  recordReconciliationMismatches(found: readonly { kind: MismatchKind }[]): void {
    for (const m of found) this.reconciliationMismatches.inc({ kind: oneOf(MISMATCH_KINDS, m.kind) });
  }

  /** What one run of the TTL sweeper destroyed: pass `Vault.sweepExpired()`'s result as it is. */
  recordSweep(swept: { cvvs: readonly unknown[] | number; intakes: number }): void {
    const cvvs = typeof swept.cvvs === 'number' ? swept.cvvs : swept.cvvs.length;
    if (cvvs > 0) this.cvvExpiries.inc(cvvs);
    if (swept.intakes > 0) this.intakeExpiries.inc(swept.intakes);
  }

  /**
   * Shows a labelled series at 0 before its first event, so dashboards and `rate()` see it from
   * the start. Each process initialises only what it can record (see instrumentActivities and
   * metricsSinks): the API never shows acquirer series, the acquirer worker never HTTP ones.
   */
  initPaymentStatuses(statuses: readonly PaymentStatus[] = PAYMENT_STATUSES): void {
    for (const status of statuses) this.paymentsFinal.inc({ status }, 0);
  }

  initFraudDecisions(): void {
    for (const decision of FRAUD_DECISIONS) this.fraudDecisions.inc({ decision }, 0);
  }

  initAcquirerOperation(operation: AcquirerOperation): void {
    const outcomes = operation === 'authorize' ? ACQUIRER_OUTCOMES : ACQUIRER_OUTCOMES.filter((o) => o !== 'declined');
    for (const outcome of outcomes) this.acquirerCalls.inc({ operation, outcome }, 0);
  }

  initCvvPurges(): void {
    for (const result of CVV_PURGE_RESULTS) this.cvvPurges.inc({ result }, 0);
  }
}

const RECORD_WRITE_RESULTS: readonly RecordWriteResult[] = ['applied', 'stale', 'gap'];

function oneOf<T extends string>(allowed: readonly T[], value: string): T | 'other' {
  return (allowed as readonly string[]).includes(value) ? (value as T) : 'other';
}

/**
 * The statuses `payments_final_total` counts: the payment workflow's FINAL_OR_DONE. A workflow
 * calls the sink when it moves into one of them (see `MetricsSinks`).
 */
export const OUTCOME_STATUSES = [
  'declined',
  'canceled',
  'failed',
  'reversed',
  'settled',
  'refunded',
  'partially_refunded',
] as const satisfies readonly PaymentStatus[];

/**
 * How the payment workflow reports its outcome without breaking determinism: a Temporal sink.
 * Sink calls leave the workflow sandbox after each activation, write nothing to history and are
 * not repeated on replay, so adding them changes no running workflow. Delivery is best effort
 * (a workflow task that fails and is retried may call it again), which suits a metric.
 *
 * In the workflow: `const { metrics } = proxySinks<MetricsSinks>();` then
 * `metrics.paymentFinished(status)`. Only the status crosses: never an id.
 */
export interface MetricsSinks extends Sinks {
  metrics: {
    paymentFinished(status: PaymentStatus): void;
    /** A money step's outcome is unknown: the payment waits for the acquirer. */
    acquirerWaitStarted(step: AcquirerStep): void;
    /** The unknown outcome became known. */
    unknownOutcomeResolved(step: AcquirerStep, resolution: UnknownOutcomeResolution): void;
  };
}

/** Where `metricsSinks` writes the acquirer-wait lines; a pino logger in the payments worker. */
export interface MetricLineLogger {
  warn(fields: Record<string, string>, msg: string): void;
  info(fields: Record<string, string>, msg: string): void;
}

/**
 * The worker side of `MetricsSinks`: `Worker.create({ ..., sinks: metricsSinks(metrics, logger) })`
 * on the payments queue. With a logger, an unknown acquirer outcome and its resolution are also a
 * structured log line with `metric` naming the counter, which is how CloudWatch counts them on AWS
 * (a metric filter on `$.metric`, deploy/aws/template.yaml) where no Prometheus scrapes the worker.
 */
export function metricsSinks(metrics: Metrics, log?: MetricLineLogger): InjectedSinks<MetricsSinks> {
  metrics.initPaymentStatuses(OUTCOME_STATUSES);
  for (const step of ACQUIRER_STEPS) metrics.acquirerWaits.inc({ step }, 0);
  // Exported from the start, so "waits minus resolved" (the dashboards' payments waiting now) is defined.
  for (const step of ACQUIRER_STEPS) for (const resolution of UNKNOWN_OUTCOME_RESOLUTIONS) metrics.unknownOutcomesResolved.inc({ step, resolution }, 0);
  return {
    metrics: {
      paymentFinished: {
        // The WorkflowInfo (first argument) carries the workflow id, i.e. the payment id: not used.
        fn: (_info, status) => metrics.recordPaymentFinal(status),
        callDuringReplay: false,
      },
      acquirerWaitStarted: {
        fn: (_info, step) => {
          const known = oneOf(ACQUIRER_STEPS, step);
          metrics.acquirerWaits.inc({ step: known });
          log?.warn({ metric: 'payment_acquirer_waits_total', step: known }, 'a payment waits for the acquirer: the outcome of a money step is unknown');
        },
        callDuringReplay: false,
      },
      unknownOutcomeResolved: {
        fn: (_info, step, resolution) => {
          const labels = { step: oneOf(ACQUIRER_STEPS, step), resolution: oneOf(UNKNOWN_OUTCOME_RESOLUTIONS, resolution) };
          metrics.unknownOutcomesResolved.inc(labels);
          log?.info({ metric: 'payment_unknown_outcomes_resolved_total', ...labels }, 'an unknown acquirer outcome became known');
        },
        callDuringReplay: false,
      },
    },
  };
}
