import express, { type Express, type RequestHandler } from 'express';
import { requireScope } from './auth/middleware';
import type { TokenVerifier } from './auth/verify-token';
import { opsCookieAsBearer, opsSessionRoutes } from './routes/ops-session';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { Logger } from '../logging/logger';
import { httpMetrics } from '../observability/http-metrics';
import { Metrics } from '../observability/metrics';
import helmet from 'helmet';
import { errorHandler, notFoundHandler } from './errors';
import { clientRateLimit, jsonOnly, merchantRateLimit } from './middleware/edge';
import { methodNotAllowed } from './middleware/method-not-allowed';
import { requestLogging } from './middleware/request-logging';
import { codecRoutes } from './routes/codec';
import { docsRoutes } from './routes/docs';
import { healthRoutes } from './routes/health';
import { paymentRoutes } from './routes/payments';
import { balanceRoutes } from './routes/balance';
import type { BalanceService } from './balance/balance-service';
import { reconciliationRoutes } from './routes/reconciliation';
import type { ReconciliationReports } from '../reconciliation/reconciliation-reports';
import type { PaymentService } from './payments/payment-service';
import type { FraudOpsService } from './fraud/fraud-ops-service';
import { fraudRoutes } from './routes/fraud';
import { cardDataRoutes } from './routes/card-data';
import type { CardDataAttestations } from '../audit/card-data-attestation';
import { stripeEdge, stripeRoutes, type StripeServices } from './routes/stripe';

export interface AppDependencies {
  client: Client;
  logger: Logger;
  readinessTimeoutMs: number;
  /** The payload codec, served to the Temporal Web UI at /codec. */
  codec: PayloadCodec;
  /** Origins allowed to call the codec endpoint from a browser: the Web UI's. */
  codecAllowedOrigins: string[];
  payments: PaymentService;
  /** The merchant's balance, from the merchant ledger. */
  balance: BalanceService;
  /** The daily reconciliation's reports (operations). */
  reconciliation: ReconciliationReports;
  /** Fraud reports and the review queue (operations). */
  fraud: FraudOpsService;
  /** Card-data retention attestations from the audit chain (operations). */
  cardData: CardDataAttestations;
  /** Verifies bearer tokens (src/api/auth); every /v1 and /codec request is authenticated. */
  authenticate: RequestHandler;
  /** The same verifier, for the operators' browser sign-in (./routes/ops-session.ts). */
  verifier: TokenVerifier;
  /**
   * This process's metrics: recorded here, served by its own listener on METRICS_PORT
   * (src/observability/metrics-server.ts), never on the API's public port. Default: a fresh registry.
   */
  metrics?: Metrics;
  /** The Stripe-compatible surface (docs/stripe-compat.md); absent in apps built without it (unit tests). */
  stripe?: StripeServices;
  /** Requests per merchant per minute. */
  rateLimitPerMinute?: number;
  /** Requests per client address per minute, before authentication. Default 1200. */
  clientRateLimitPerMinute?: number;
  /** Express's `trust proxy` (TRUST_PROXY): which proxies' X-Forwarded-For/-Proto are believed. Default false. */
  trustProxy?: boolean | number | string[];
  /** The audience a token needs to open an ops session (./routes/ops-session.ts). */
  opsAudience?: string;
  /** How long GET /readyz reuses its last answer (./readiness-cache.ts). */
  readinessCacheMs?: number;
}

/** The Express application, without listening: tests mount it on an ephemeral port. */
export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a TLS-terminating proxy: req.ip and req.secure (the ops cookie's Secure) from its headers.
  app.set('trust proxy', deps.trustProxy ?? false);
  const metrics = deps.metrics ?? new Metrics();
  app.use(httpMetrics(metrics)); // first: it must see every request, 404s and body-parser errors too
  app.use(requestLogging(deps.logger));
  app.use(helmet());
  // Probes first: an orchestrator's liveness and readiness checks are never rate limited
  // (/readyz bounds its own cost: ./readiness-cache.ts).
  app.use(healthRoutes(deps.client, deps.readinessTimeoutMs, { readinessCacheMs: deps.readinessCacheMs }));
  // Per client address, before any token is verified or any failure audited.
  app.use(clientRateLimit(deps.clientRateLimitPerMinute ?? 1200));
  // A form post from a browser: the one body that is not JSON.
  app.use(opsSessionRoutes(deps.verifier, deps.authenticate, { opsAudience: deps.opsAudience }));
  // Stripe's API is form-encoded: parsed (and Stripe's headers set) for its paths only.
  if (deps.stripe) app.use(stripeEdge());
  app.use(jsonOnly);
  // Public: the OpenAPI description generated from the request schemas, and its reference page.
  app.use(docsRoutes());
  // The codec endpoint takes batches of payloads from the Web UI: a larger limit than the API's own.
  app.use('/codec', express.json({ limit: '4mb' }));
  app.use(codecRoutes(deps.codec, { allowedOrigins: deps.codecAllowedOrigins, authenticate: [opsCookieAsBearer, deps.authenticate, requireScope('ops')] }));
  app.use(express.json({ limit: '16kb' }));
  app.use('/v1', deps.authenticate, merchantRateLimit(deps.rateLimitPerMinute ?? 600));
  app.use(paymentRoutes(deps.payments));
  app.use(balanceRoutes(deps.balance));
  app.use(reconciliationRoutes(deps.reconciliation));
  app.use(fraudRoutes(deps.fraud));
  app.use(cardDataRoutes(deps.cardData));
  if (deps.stripe) app.use(stripeRoutes(deps.stripe));
  app.use(methodNotAllowed(app));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
