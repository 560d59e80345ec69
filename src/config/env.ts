import path from 'node:path';
import { z } from 'zod';

/**
 * The process configuration, read once from the environment and validated.
 *
 * Every variable is documented in the README ("Configuration"); docker-compose.yml and
 * test/unit/docker-compose.test.ts check that the names used there are exactly these.
 */

const port = z.coerce.number().int().min(1).max(65535);
const optionalPath = z
  .string()
  .trim()
  .min(1)
  .optional()
  .transform((p) => (p === undefined ? undefined : path.resolve(p)));
const flagDefaulting = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1'));
const flag = flagDefaulting(false);
/** The most processes of one kind: a bound, so that a typo cannot start hundreds of them. */
export const MAX_PROCESSES = 16;
const PROCESS_COUNT = `must be a whole number of processes, 1 to ${MAX_PROCESSES}`;
const processCount = z.coerce.number({ error: PROCESS_COUNT }).int(PROCESS_COUNT).min(1, PROCESS_COUNT).max(MAX_PROCESSES, PROCESS_COUNT).default(1);

export const envSchema = z.object({
  /** host:port of an existing Temporal frontend. Unset: `npm start` runs the embedded dev server. */
  TEMPORAL_ADDRESS: z
    .string()
    .trim()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. localhost:7233')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
  /** TLS towards Temporal. Implied by a client certificate; needed alone for a server-only TLS cluster. */
  TEMPORAL_TLS: flag,
  TEMPORAL_TLS_CERT: optionalPath,
  TEMPORAL_TLS_KEY: optionalPath,
  TEMPORAL_TLS_CA: optionalPath,
  TEMPORAL_TLS_SERVER_NAME: z.string().trim().min(1).optional(),
  /** A Temporal Cloud API key (sent as a bearer token, over TLS), instead of a client certificate. */
  TEMPORAL_API_KEY: z.string().trim().min(1).optional(),
  /** Ports of the embedded dev server (ignored when TEMPORAL_ADDRESS is set). */
  TEMPORAL_DEV_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  /** Explicit Temporal binaries: they win over everything else (README, "Temporal binaries"). */
  TEMPORAL_CLI_PATH: optionalPath,
  TEMPORAL_TEST_SERVER_PATH: optionalPath,
  PORT: port.default(3000),
  DATA_DIR: z.string().trim().min(1).default('data').transform((p) => path.resolve(p)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** PostgreSQL for the vault and the audit log; unset: SQLite under DATA_DIR. */
  DATABASE_URL: z.string().trim().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  /** Where data keys come from: a local master key file (default) or AWS KMS. */
  KEY_PROVIDER: z.enum(['local', 'aws-kms']).default('local'),
  /** The vault's local master key file (vault worker only); default DATA_DIR/keys/master-key.json. Created 0600 on first start. */
  MASTER_KEY_FILE: optionalPath,
  /** The Temporal payload key file every process is given; default DATA_DIR/keys/payload-key.json. Created 0600 on first start. */
  PAYLOAD_KEY_FILE: optionalPath,
  KMS_KEY_ID: z.string().trim().min(1).optional(),
  /**
   * With KEY_PROVIDER=aws-kms, the KMS key that wraps Temporal payload keys, when it is not
   * KMS_KEY_ID: a key of its own lets IAM give the API and the workers the payload key and nothing
   * on the card key (docs/deploy-aws.md). Unset: KMS_KEY_ID serves both.
   */
  PAYLOAD_KMS_KEY_ID: z.string().trim().min(1).optional(),
  /** A KMS-compatible endpoint (VPC endpoint, or a local KMS for tests); AWS's own by default. */
  KMS_ENDPOINT: z.string().trim().url().optional(),
  AWS_REGION: z.string().trim().min(1).default('us-east-1'),
  /** How long a sealed card and its CVV live if never used (the CVV time-to-live backstop). */
  CVV_TTL_MINUTES: z.coerce.number().positive().max(24 * 60).default(30),
  CVV_SWEEP_INTERVAL_SECONDS: z.coerce.number().positive().max(3600).default(60),
  /** Browser origins allowed to call the codec endpoint (comma-separated); default: the embedded Web UI. */
  CODEC_CORS_ORIGINS: z
    .string()
    .optional()
    .transform((v) => v?.split(',').map((o) => o.trim()).filter(Boolean)),
  /** The acquirer: the sandbox under `npm start`, a real connector's endpoint in production. */
  ACQUIRER_URL: z.string().trim().url().default('http://127.0.0.1:4100'),
  ACQUIRER_SANDBOX_PORT: port.default(4100),
  /** How long POST /v1/payments waits for the authorization decision before answering 202 processing. */
  AUTHORIZATION_WAIT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** Lifecycle timers (DESIGN.md §4). */
  AUTHORIZATION_EXPIRY_HOURS: z.coerce.number().positive().max(24 * 31).default(7 * 24),
  FRAUD_REVIEW_DEADLINE_HOURS: z.coerce.number().positive().max(24 * 14).default(24),
  SETTLEMENT_CUTOFF_UTC: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'must be HH:MM or HH:MM:SS (UTC)').default('22:00'),
  REFUND_WINDOW_DAYS: z.coerce.number().positive().max(3 * 365).default(180),
  /**
   * Automatic-capture payments go to the acquirer as a sale: authorized and captured in one call
   * (docs/performance.md). `false` for an acquirer connector without sales: authorize, then capture.
   */
  ACQUIRER_SALE: flagDefaulting(true),
  /** How long a closed payment's record (src/records) is kept after its workflow's last write, then purged. Default 7 years. */
  RECORDS_RETENTION_DAYS: z.coerce.number().positive().max(100 * 365).default(7 * 365),
  /** Our fee on each charge, in basis points (290 = 2.90 %), posted to the merchant ledger (src/ledger). */
  MERCHANT_FEE_BPS: z.coerce.number().int().min(0).max(10_000).default(290),
  /**
   * Payment workflows the payments worker keeps in memory between tasks (Temporal's sticky cache);
   * the SDK's default when unset. With a cache, a worker SIGKILLed with payments cached leaves
   * their next tasks to time out on its sticky queue (seconds of waiting), and SDK 1.24 may then
   * group the events around that timeout differently live and on replay, which stops a payment on
   * a nondeterminism error until it is reset (docs/replay.md). 0 rules that out, at the cost of a
   * replay of the payment's history for every task and query (2-3x less throughput, docs/replay.md).
   */
  PAYMENTS_WORKFLOW_CACHE_SIZE: z.coerce.number().int().min(0).max(100_000).optional(),
  /**
   * A process's Prometheus endpoint: http://<host>:METRICS_PORT/metrics, a listener of its own (for
   * the API too: /metrics is never served on the public PORT). Unset: none.
   */
  METRICS_PORT: port.optional(),
  /** The interface METRICS_PORT listens on. Default: all (a Prometheus in another container scrapes it). */
  METRICS_HOST: z.string().trim().min(1).optional(),
  /** Loopback port of the Temporal SDK's own exporter, re-served on METRICS_PORT. Default METRICS_PORT + 1. */
  TEMPORAL_METRICS_PORT: port.optional(),
  /**
   * `npm start` gives each worker a Prometheus endpoint: the n-th queue (payments, vault, fraud,
   * acquirer, records) serves on this + 2n, its Temporal SDK exporter on the port after. 0: none.
   */
  WORKER_METRICS_BASE_PORT: z.coerce.number().int().min(0).max(65_000).default(9464),
  /**
   * Scale out (README, "Scaling out"): how many worker processes `npm start` runs for each task
   * queue. They poll the same queue; Temporal hands each task to one of them.
   */
  WORKERS_PER_QUEUE: processCount,
  /**
   * How many API processes share PORT (node:cluster, src/api/api-cluster.ts), under `npm start` and
   * wherever dist/api/server.js runs. With METRICS_PORT set, the n-th serves its metrics on METRICS_PORT + n - 1.
   */
  API_PROCESSES: processCount,
  /** The API over HTTPS when both are set (PEM files); plain HTTP otherwise (e.g. behind a TLS-terminating proxy). */
  API_TLS_CERT: optionalPath,
  API_TLS_KEY: optionalPath,
  /** Requests per merchant per minute before 429. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().max(1_000_000).default(600),
  /** Requests per client address per minute before 429, counted before authentication. */
  CLIENT_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().max(1_000_000).default(1200),
  /**
   * Express's `trust proxy`: which proxies in front of the API may say, in X-Forwarded-For and
   * X-Forwarded-Proto, who the client is and whether it used TLS. `false` (default): none, the
   * socket's peer is the client. `true`: any; a number: that many hops; otherwise a comma list of
   * addresses, subnets or Express's names (`loopback`, `uniquelocal`).
   */
  TRUST_PROXY: z
    .string()
    .trim()
    .regex(/^(true|false|\d{1,2}|[\w.:/,\s-]+)$/, 'must be true, false, a hop count or a comma list of addresses/subnets')
    .optional()
    .transform((v): boolean | number | string[] =>
      v === undefined || v === 'false' ? false : v === 'true' ? true : /^\d+$/.test(v) ? Number(v) : v.split(',').map((a) => a.trim()).filter(Boolean),
    ),
  /** How long GET /readyz waits for its probe workflow before it answers 503. */
  READINESS_TIMEOUT_MS: z.coerce.number().int().min(500).max(60_000).default(5_000),
  /** How long GET /readyz reuses its last answer; probes never overlap (src/api/readiness-cache.ts). */
  READINESS_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
});

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`Invalid configuration: ${variable} ${detail}`);
    this.name = 'ConfigError';
  }
}

export function parseEnv(source: NodeJS.ProcessEnv): Env {
  // An empty variable means "not set": that is how shells and compose files usually unset things.
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const value = present[variable];
    // Values are echoed only when short and not secret-looking paths; keys and certificates never are.
    const shown = value !== undefined && !/KEY|CERT|CA/.test(variable) ? ` (got "${value.slice(0, 80)}")` : '';
    throw new ConfigError(variable, `${issue.message}${shown}`);
  }
  const env = result.data;
  if ((env.TEMPORAL_TLS_CERT === undefined) !== (env.TEMPORAL_TLS_KEY === undefined)) {
    throw new ConfigError(
      env.TEMPORAL_TLS_CERT === undefined ? 'TEMPORAL_TLS_CERT' : 'TEMPORAL_TLS_KEY',
      'must be set together with its pair (mTLS needs both the client certificate and its key)',
    );
  }
  // A process that opens only the payload key (API, payments, fraud, acquirer, records) may be
  // given PAYLOAD_KMS_KEY_ID alone; the vault worker also needs KMS_KEY_ID (openKeyProvider).
  if (env.KEY_PROVIDER === 'aws-kms' && env.KMS_KEY_ID === undefined && env.PAYLOAD_KMS_KEY_ID === undefined) {
    throw new ConfigError('KMS_KEY_ID', 'must be set when KEY_PROVIDER=aws-kms (a key id, ARN or alias/...), or PAYLOAD_KMS_KEY_ID for a process that opens only the payload key');
  }
  return env;
}

let cached: Env | undefined;

/** The configuration of this process, parsed on first use. */
export function loadEnv(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}
