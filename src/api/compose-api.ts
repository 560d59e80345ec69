import type { Client } from '@temporalio/client';
import type express from 'express';
import type { Env } from '../config/env';
import type { Logger } from '../logging/logger';
import { EncryptionCodec } from '../temporal/payload-codec';
import { openPayloadKeyProvider } from '../vault/keys/open-key-provider';
import { AuditLog } from '../audit/audit-log';
import { CardDataAttestations } from '../audit/card-data-attestation';
import { AuthFailureAudit } from '../audit/auth-failure-audit';
import { openDb } from '../storage/open-db';
import type { Db } from '../storage/db';
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
import type { CachingKeyProvider } from '../vault/keys/data-key-cache';

const DAY_MS = 86_400_000;

/** The merchant API and what it holds: built once per process (the HTTP server) or per container (Lambda). */
export interface ComposedApi {
  app: express.Express;
  client: Client;
  db: Db;
  intake: CardIntake;
  metrics: Metrics;
  /** Failed authentications, counted per request and written once a second (or on flush). */
  authFailures: AuthFailureAudit;
}

export interface ComposeOptions {
  env: Env;
  /** The variables `env` was parsed from (the auth settings are read from them); default process.env. */
  source?: NodeJS.ProcessEnv;
  logger: Logger;
  /** The Temporal client, made by the caller: a lazy one for the server, a deadline-bound one for Lambda. */
  client: (keys: CachingKeyProvider) => Client;
  /** How long the current request may still take (Lambda: the invocation's remaining time); unbounded when absent. */
  requestTimeLeftMs?: () => number | undefined;
}

/**
 * Builds the merchant API: the same Express app and services whichever front door serves it
 * (src/api/server.ts over HTTP, src/api/lambda.ts behind API Gateway), so no route has a second copy.
 */
export async function composeApi({ env, source = process.env, logger, client: makeClient, requestTimeLeftMs }: ComposeOptions): Promise<ComposedApi> {
  // The payload key only: the API holds no key that opens card data (docs/vault.md, "Keys per process").
  const keys = await openPayloadKeyProvider(env);
  const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
  const client = makeClient(keys);
  const audit = new AuditLog(db);
  // Seals cards with HPKE to the public keys the vault worker publishes: it cannot read a card back.
  const intake = new CardIntake(db, audit, { ttlMs: env.CVV_TTL_MINUTES * 60_000 });
  const records = new PaymentRecords(db, env.RECORDS_RETENTION_DAYS * DAY_MS);
  const payments = new PaymentService(client, intake, audit, records, {
    policy: paymentPolicy(env),
    authorizationWaitMs: env.AUTHORIZATION_WAIT_MS,
    ...(requestTimeLeftMs ? { requestTimeLeftMs } : {}),
  });
  const authConfig = loadAuthConfig(source, env.DATA_DIR);
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
  return { app, client, db, intake, metrics, authFailures };
}
