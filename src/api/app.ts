import express, { type Express, type RequestHandler } from 'express';
import { requireScope } from './auth/middleware';
import type { TokenVerifier } from './auth/verify-token';
import { opsCookieAsBearer, opsSessionRoutes } from './routes/ops-session';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { Logger } from '../logging/logger';
import { httpMetrics, metricsRoute } from '../observability/http-metrics';
import { Metrics } from '../observability/metrics';
import helmet from 'helmet';
import { errorHandler, notFoundHandler } from './errors';
import { jsonOnly, merchantRateLimit } from './middleware/edge';
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
  /** This process's metrics, served at GET /metrics. Default: a fresh registry. */
  metrics?: Metrics;
  /** The Stripe-compatible surface (docs/stripe-compat.md); absent in apps built without it (unit tests). */
  stripe?: StripeServices;
  /** Requests per merchant per minute. */
  rateLimitPerMinute?: number;
}

/** The Express application, without listening: tests mount it on an ephemeral port. */
export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  const metrics = deps.metrics ?? new Metrics();
  app.use(httpMetrics(metrics)); // first: it must see every request, 404s and body-parser errors too
  app.use(requestLogging(deps.logger));
  app.use(helmet());
  app.use(metricsRoute(metrics));
  // A form post from a browser: the one body that is not JSON.
  app.use(opsSessionRoutes(deps.verifier, deps.authenticate));
  // Stripe's API is form-encoded: parsed (and Stripe's headers set) for its paths only.
  if (deps.stripe) app.use(stripeEdge());
  app.use(jsonOnly);
  app.use(healthRoutes(deps.client, deps.readinessTimeoutMs));
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
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
