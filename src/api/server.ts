/** `npm run api`: the merchant API on PORT. */
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import { loadEnv } from '../config/env';
import { createLogger } from '../logging/logger';
import { exitOnFailure, onShutdown } from '../process/lifecycle';
import { createLazyClient, temporalAddress } from '../temporal/connection';
import { gatewayDataConverter } from '../temporal/data-converter';
import { EncryptionCodec } from '../temporal/payload-codec';
import { openPayloadKeyProvider } from '../vault/keys/open-key-provider';
import { AuditLog } from '../audit/audit-log';
import { CardDataAttestations } from '../audit/card-data-attestation';
import { AuthFailureAudit } from '../audit/auth-failure-audit';
import { startMetricsServer, type MetricsServer } from '../observability/metrics-server';
import { openDb } from '../storage/open-db';
import { CardIntake } from '../vault/card-intake';
import { Metrics } from '../observability/metrics';
import { authenticate } from './auth/middleware';
import { ApiKeys } from './auth/api-keys';
import { loadAuthConfig } from './auth/auth-config';
import { createTokenVerifier } from './auth/verify-token';
import { PaymentService } from './payments/payment-service';
import { PaymentRecords } from '../records/payment-records';
import { FraudOpsService } from './fraud/fraud-ops-service';
import { paymentPolicy } from './payments/policy';
import { createApp } from './app';
import { stripeServices } from './stripe/stripe-services';
import { BalanceService } from './balance/balance-service';
import { LedgerReader } from '../ledger/merchant-ledger';
import { ReconciliationReports } from '../reconciliation/reconciliation-reports';

const DAY_MS = 86_400_000;

async function main(): Promise<void> {
  const env = loadEnv();
  const logger = createLogger({ name: 'api', level: env.LOG_LEVEL });
  // The payload key only: the API holds no key that opens card data (docs/vault.md, "Keys per process").
  const keys = await openPayloadKeyProvider(env);
  const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
  const client = createLazyClient(env, gatewayDataConverter(keys));
  const audit = new AuditLog(db);
  // Seals cards with HPKE to the public keys the vault worker publishes: it cannot read a card back.
  const intake = new CardIntake(db, audit, { ttlMs: env.CVV_TTL_MINUTES * 60_000 });
  const records = new PaymentRecords(db, env.RECORDS_RETENTION_DAYS * DAY_MS);
  const payments = new PaymentService(client, intake, audit, records, { policy: paymentPolicy(env), authorizationWaitMs: env.AUTHORIZATION_WAIT_MS });
  const authConfig = loadAuthConfig(process.env, env.DATA_DIR);
  const verifier = createTokenVerifier(authConfig);
  // Counted per request, written once a second: a flood of bad tokens does not queue on the audit lock card sealing needs.
  const authFailures = new AuthFailureAudit(db, audit, {
    onError: (err, lost) => logger.error({ err, lost }, 'authentication failures could not be audited'),
  });
  const metrics = new Metrics();
  const app = createApp({
    client,
    logger,
    readinessTimeoutMs: env.READINESS_TIMEOUT_MS,
    codec: new EncryptionCodec(keys),
    codecAllowedOrigins: env.CODEC_CORS_ORIGINS ?? [`http://localhost:${env.TEMPORAL_UI_PORT}`, `http://127.0.0.1:${env.TEMPORAL_UI_PORT}`],
    payments,
    stripe: stripeServices({ db, client, intake, payments, records, cvvTtlMs: env.CVV_TTL_MINUTES * 60_000, logger }),
    balance: new BalanceService(new LedgerReader(db)),
    reconciliation: new ReconciliationReports(db),
    fraud: new FraudOpsService(client, audit),
    cardData: new CardDataAttestations(db),
    metrics,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    clientRateLimitPerMinute: env.CLIENT_RATE_LIMIT_PER_MINUTE,
    trustProxy: env.TRUST_PROXY,
    opsAudience: authConfig.opsAudience,
    readinessCacheMs: env.READINESS_CACHE_MS,
    verifier,
    authenticate: authenticate(verifier, {
      apiKeys: new ApiKeys(db),
      onFailure: (reason, req) => authFailures.record(reason.code, req.path),
    }),
  });

  // Prometheus scrapes its own listener (METRICS_PORT, on METRICS_HOST): the public API port serves no /metrics.
  let metricsServer: MetricsServer | undefined;
  if (env.METRICS_PORT !== undefined) {
    metricsServer = await startMetricsServer(metrics, env.METRICS_PORT, { host: env.METRICS_HOST });
    logger.info({ port: metricsServer.port, host: env.METRICS_HOST ?? 'all interfaces' }, `API metrics on :${metricsServer.port}/metrics`);
  }

  // HTTPS when a certificate and key are configured; graceful shutdown is the same either way.
  const server =
    env.API_TLS_CERT && env.API_TLS_KEY
      ? https.createServer({ cert: fs.readFileSync(env.API_TLS_CERT), key: fs.readFileSync(env.API_TLS_KEY) }, app).listen(env.PORT)
      : app.listen(env.PORT);
  await once(server, 'listening');
  const scheme = env.API_TLS_CERT && env.API_TLS_KEY ? 'https' : 'http';
  logger.info({ port: env.PORT, temporal: temporalAddress(env) }, `API listening on ${scheme}://localhost:${env.PORT}`);

  onShutdown((reason) => {
    logger.info({ reason }, 'API shutting down: finishing in-flight requests');
    // close() stops accepting connections and waits for in-flight requests; idle keep-alive
    // connections are closed at once so the wait is only for real work.
    server.close(() => {
      void Promise.allSettled([client.connection.close(), metricsServer?.close(), authFailures.close()])
        .then(() => db.close())
        .finally(() => logger.info('API stopped'));
    });
    server.closeIdleConnections();
  });
}

exitOnFailure('api', main());
