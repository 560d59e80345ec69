import type { Express } from 'express';
import { z } from 'zod';
import type { Scope } from '../auth/verify-token';
import { cancelBody, captureBody, createPaymentBody, idempotencyKeyHeader, listQuery, paymentIdParam, refundBody, reviewBody } from '../payments/schemas';
import { balanceQuery, balanceTransactionsQuery } from '../balance/schemas';
import { reconciliationDateParam } from '../reconciliation/schemas';
import { payloadsBody } from '../routes/codec';
import { loginQuery, opsSession, sessionQuery } from '../routes/ops-session';
import { fraudReportBody, reviewListQuery } from '../fraud/schemas';
import {
  acceptedPayment,
  balance,
  balanceTransactionList,
  reconciliationReport,
  codecPayloads,
  errorResponse,
  cardDataAttestation,
  fraudReport,
  reviewList,
  health,
  payment,
  paymentList,
  readiness,
  refund,
} from './response-schemas';

/**
 * The route table: every route the API serves, once, with the zod schemas that validate its
 * input (imported from ../payments/schemas.ts, the same objects the routes parse with) and the
 * schemas that describe its answers. ./document.ts turns it into the OpenAPI document, and
 * test/unit/openapi.test.ts checks it against the routes the Express app really registers, in
 * both directions: a route added without a row here, or a row without a route, fails the suite.
 */

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call the route: anyone, or the bearer of a JWT granting `scope` (src/api/auth: the
 * app authenticates every /v1 and /codec request, and each route requires its scope).
 * test/unit/openapi.test.ts checks each row against the app: no token is a 401, a token without
 * the scope a 403, a token with only that scope gets through.
 */
export type RouteAuth = 'public' | { scope: Scope };

export interface HeaderSpec {
  name: string;
  schema: z.ZodType;
  required: boolean;
  description: string;
}

export interface ResponseSpec {
  description: string;
  /** The body's schema; for JSON a zod schema, for other media types see `contentType`. */
  schema?: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
  /** OpenAPI links: operations this answer leads to, with their parameters taken from it. */
  links?: Record<string, { operationId: string; parameters: Record<string, string>; description: string }>;
}

export interface RouteSpec {
  method: HttpMethod;
  /** OpenAPI style: `/v1/payments/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  auth: RouteAuth;
  /** One schema per `{name}` in the path. */
  params?: Record<string, z.ZodType>;
  /** The query as one object schema: each property becomes a query parameter. */
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Default true when there is a body: false for routes that treat a missing body as `{}`. */
  bodyRequired?: boolean;
  headers?: HeaderSpec[];
  responses: Record<number, ResponseSpec>;
}

// The codec endpoint's request schema is the one its route validates with.
const codecRequestBody = payloadsBody;

/** The files the reference page at /docs loads, all served by this process (src/api/routes/docs.ts). */
export const DOCS_ASSET_FILES = ['swagger-ui-bundle.js', 'swagger-ui.css', 'docs.js'] as const;
export const docsAssetParam = z.enum(DOCS_ASSET_FILES);

/**
 * Request schemas by component name. The document refers to these by `$ref`; each is generated
 * from the very object listed here (the test compares them with `z.toJSONSchema` of the import).
 */
export const REQUEST_SCHEMAS = {
  CreatePaymentRequest: createPaymentBody,
  CaptureRequest: captureBody,
  CancelRequest: cancelBody,
  RefundRequest: refundBody,
  ReviewRequest: reviewBody,
  FraudReportRequest: fraudReportBody,
  CodecPayloadsRequest: codecRequestBody,
} satisfies Record<string, z.ZodType>;

const error = (description: string): ResponseSpec => ({ description, schema: errorResponse });
const E400 = error('Invalid request: a field is missing, unknown or invalid (`param` names it)');
const E404 = error('No such payment for this merchant');
const E409 = error('The payment is not in a state that allows this (the code says why)');
/** What every authenticated route can answer before it runs (src/api/auth/middleware.ts). */
const AUTH_ERRORS = {
  401: error('No valid bearer token (`code` says why: token_missing, token_expired, ...); see the WWW-Authenticate header'),
  403: error('The token does not grant the scope this route needs (`insufficient_scope`)'),
  503: error('Tokens cannot be verified right now (the signing keys are unavailable); retry shortly'),
} satisfies Record<number, ResponseSpec>;

const idParam = { id: paymentIdParam };

/**
 * From a payment in an answer to what can be done with it next: clients (and schemathesis's
 * stateful phase, test/integration/schemathesis.test.ts) follow these from a created payment.
 */
const PAYMENT_LINKS: ResponseSpec['links'] = {
  GetPayment: { operationId: 'getPayment', parameters: { id: '$response.body#/id' }, description: 'The payment just answered' },
  CapturePayment: { operationId: 'capturePayment', parameters: { id: '$response.body#/id' }, description: 'Capture it (manual capture)' },
  CancelPayment: { operationId: 'cancelPayment', parameters: { id: '$response.body#/id' }, description: 'Cancel it before capture' },
  RefundPayment: { operationId: 'refundPayment', parameters: { id: '$response.body#/id' }, description: 'Refund it once captured' },
};

/** Capture, cancel and review: the same request retried with the same key reads the same answer. */
const actionKeyHeader = [
  {
    name: 'Idempotency-Key',
    schema: idempotencyKeyHeader,
    required: false,
    description: 'The same key and body are the same request: once accepted it is acted on once (a retry after a timeout is told so); a refused one changed nothing and is decided anew. Without a key each request is new',
  },
];

/** An action was not taken in time: Temporal or the payments worker is slow or down. */
const ACTION_UNAVAILABLE = error(
  'payments_unavailable: the request was not taken in time (Temporal or the payments worker is slow or restarting); ' +
    'retry it with the same Idempotency-Key to read its answer. Also: tokens cannot be verified right now.',
);

export const ROUTES: RouteSpec[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    summary: 'Liveness: the process is up',
    description: 'Never touches Temporal, so an outage of Temporal does not make an orchestrator restart healthy API processes.',
    tags: ['operations'],
    auth: 'public',
    responses: { 200: { description: 'The process is up', schema: health } },
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    summary: 'Readiness: Temporal answers and every worker queue runs',
    tags: ['operations'],
    auth: 'public',
    responses: {
      200: { description: 'Ready', schema: readiness },
      503: { description: 'Not ready: `reason` names the first failing component', schema: readiness },
    },
  },
  {
    method: 'get',
    path: '/ops/login',
    operationId: 'opsLoginPage',
    summary: "Operators' sign-in page for the Web UI (served on the UI's origin by the UI proxy)",
    tags: ['operations'],
    auth: 'public',
    query: loginQuery,
    responses: { 200: { description: 'An HTML form to paste a token with the ops scope', contentType: 'text/html', schema: z.string() }, 400: E400 },
  },
  {
    method: 'post',
    path: '/ops/session',
    operationId: 'opsSignIn',
    summary: 'Keeps an ops token in an HttpOnly, SameSite=Strict cookie for the Web UI and /codec',
    tags: ['operations'],
    auth: 'public',
    responses: {
      200: { description: 'Signed in (no `next`)', contentType: 'text/html', schema: z.string() },
      303: { description: 'Signed in: back to `next`, a path on this site', contentType: 'text/html', schema: z.string() },
      400: E400,
      401: { description: 'The token failed verification', schema: errorResponse },
      403: { description: 'The token lacks the ops scope', schema: errorResponse },
    },
  },
  {
    method: 'get',
    path: '/ops/session',
    operationId: 'getOpsSession',
    summary: "Who the browser's ops cookie (or bearer token) signs in: the UI proxy's session check",
    tags: ['operations'],
    auth: { scope: 'ops' },
    query: sessionQuery,
    responses: { 200: { description: 'A live ops session', schema: opsSession }, 400: E400, ...AUTH_ERRORS },
  },
  {
    method: 'post',
    path: '/v1/payments',
    operationId: 'createPayment',
    summary: 'Create a payment',
    description:
      'Authorizes the card and, with `capture_method: automatic`, captures it. The same Idempotency-Key with the same body ' +
      'returns the same payment; with another body it is a 409. Waits for the authorization decision up to a limit, then answers 202.',
    tags: ['payments'],
    auth: { scope: 'payments:write' },
    headers: [{ name: 'Idempotency-Key', schema: idempotencyKeyHeader, required: true, description: 'Makes retries safe: one key, one payment' }],
    body: createPaymentBody,
    responses: {
      200: { description: 'The same request again: the payment it created', schema: payment, links: PAYMENT_LINKS },
      201: { description: 'Created, with the authorization decision (`status` may be `declined`)', schema: payment, links: PAYMENT_LINKS },
      202: { description: 'Accepted; the decision is still being made: poll GET /v1/payments/{id}', schema: acceptedPayment, links: PAYMENT_LINKS },
      400: error('Invalid request, or the card is invalid (`card_error`)'),
      409: error('The Idempotency-Key was used with another body'),
      ...AUTH_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/payments',
    operationId: 'listPayments',
    summary: 'List payments, newest first',
    tags: ['payments'],
    auth: { scope: 'payments:read' },
    query: listQuery,
    responses: { 200: { description: 'One page of payments', schema: paymentList }, 400: E400, ...AUTH_ERRORS },
  },
  {
    method: 'get',
    path: '/v1/balance',
    operationId: 'getBalance',
    summary: 'What the gateway owes the merchant: available (settled) and pending, per currency',
    description: 'Read from the merchant ledger, which the records worker posts at every capture, refund, reversal and settlement (docs/ledger.md).',
    tags: ['balance'],
    auth: { scope: 'payments:read' },
    query: balanceQuery,
    responses: { 200: { description: 'The balance', schema: balance }, 400: E400, ...AUTH_ERRORS },
  },
  {
    method: 'get',
    path: '/v1/balance_transactions',
    operationId: 'listBalanceTransactions',
    summary: 'The postings behind the balance, newest first',
    tags: ['balance'],
    auth: { scope: 'payments:read' },
    query: balanceTransactionsQuery,
    responses: { 200: { description: 'One page of balance transactions', schema: balanceTransactionList }, 400: E400, ...AUTH_ERRORS },
  },
  {
    method: 'get',
    path: '/v1/reconciliation/{date}',
    operationId: 'getReconciliation',
    summary: "A day's reconciliation: the acquirer's settlement report matched line by line with the merchant ledger",
    description: 'Written by the daily reconciliation (schedule `daily-reconciliation`, at the settlement cutoff, for the previous UTC day). Each mismatch is also an audit row and counts in `reconciliation_mismatches_total`.',
    tags: ['operations'],
    auth: { scope: 'ops' },
    params: { date: reconciliationDateParam },
    responses: { 200: { description: 'The report', schema: reconciliationReport }, 400: E400, 404: error('The reconciliation of that day has not run'), ...AUTH_ERRORS },
  },
  {
    method: 'get',
    path: '/v1/payments/{id}',
    operationId: 'getPayment',
    summary: 'Retrieve a payment',
    tags: ['payments'],
    auth: { scope: 'payments:read' },
    params: idParam,
    responses: {
      200: { description: 'The payment', schema: payment },
      400: E400,
      404: E404,
      ...AUTH_ERRORS,
      503: error('The payment could not be read in time, or tokens cannot be verified right now; retry shortly'),
    },
  },
  {
    method: 'post',
    path: '/v1/payments/{id}/capture',
    operationId: 'capturePayment',
    summary: 'Capture an authorized payment (all of it, or less)',
    tags: ['payments'],
    auth: { scope: 'payments:write' },
    params: idParam,
    headers: actionKeyHeader,
    body: captureBody,
    bodyRequired: false,
    responses: {
      200: { description: 'The payment after the capture', schema: payment },
      202: { description: 'The capture is accepted and still under way (the acquirer is slow or unreachable): poll the payment', schema: payment },
      400: E400,
      404: E404,
      409: E409,
      ...AUTH_ERRORS,
      503: ACTION_UNAVAILABLE,
    },
  },
  {
    method: 'post',
    path: '/v1/payments/{id}/cancel',
    operationId: 'cancelPayment',
    summary: 'Cancel a payment that is not captured yet (voids the authorization)',
    description:
      'Honoured in processing (before the authorization is sent, or by a void once it is known), in review and awaiting capture. ' +
      'Once the capture has started it is refused with 409 payment_not_cancelable: refund instead.',
    tags: ['payments'],
    auth: { scope: 'payments:write' },
    params: idParam,
    headers: actionKeyHeader,
    body: cancelBody,
    bodyRequired: false,
    responses: {
      200: { description: 'The payment, canceled (or declined or failed, if that came first: no money was taken either way)', schema: payment },
      202: { description: 'The cancel is accepted and will be honoured; a money call in flight reaches its known outcome first: poll the payment', schema: payment },
      400: E400,
      404: E404,
      409: E409,
      ...AUTH_ERRORS,
      503: ACTION_UNAVAILABLE,
    },
  },
  {
    method: 'post',
    path: '/v1/payments/{id}/refunds',
    operationId: 'refundPayment',
    summary: 'Refund a captured payment (all of what remains, or less)',
    tags: ['payments'],
    auth: { scope: 'refunds:write' },
    params: idParam,
    headers: [
      {
        name: 'Idempotency-Key',
        schema: idempotencyKeyHeader,
        required: false,
        description: 'The same key returns the same refund; without one every request is a new refund',
      },
    ],
    body: refundBody,
    bodyRequired: false,
    responses: {
      201: { description: 'The refund (`status` says whether it succeeded)', schema: refund },
      202: { description: 'The refund is accepted and its outcome not known yet (`status: pending`): poll the payment', schema: refund },
      400: E400,
      404: E404,
      409: error('Not refundable now: refund_in_progress while another refund is pending, amount_exceeds_refundable, refund_window_closed, payment_not_refundable'),
      ...AUTH_ERRORS,
      503: ACTION_UNAVAILABLE,
    },
  },
  {
    method: 'post',
    path: '/v1/payments/{id}/review',
    operationId: 'reviewPayment',
    summary: 'Decide a payment held for fraud review (operations)',
    description: 'The token\'s subject is the operator, recorded on the payment and in the audit log.',
    tags: ['operations'],
    auth: { scope: 'ops' },
    params: idParam,
    headers: actionKeyHeader,
    body: reviewBody,
    responses: {
      200: { description: 'The payment after the decision', schema: payment },
      202: { description: 'The decision is accepted and still being acted on: poll the payment', schema: payment },
      400: E400,
      404: error('No such payment'),
      409: E409,
      ...AUTH_ERRORS,
      503: ACTION_UNAVAILABLE,
    },
  },
  {
    method: 'get',
    path: '/v1/payments/{id}/card_data',
    operationId: 'getCardDataAttestation',
    summary: "When the payment's card was sealed and its CVV destroyed, from the audit chain (operations)",
    description:
      'Read from the hash-chained audit log alone, each row checked against its hash and its neighbours: the seal, the tokenization, ' +
      'every authorization that read the card, and how the CVV was destroyed (after authorization, at review end, by the TTL).',
    tags: ['operations'],
    auth: { scope: 'ops' },
    params: idParam,
    responses: {
      200: { description: 'The attestation', schema: cardDataAttestation },
      400: E400,
      404: error('No card data was ever sealed for this payment'),
      ...AUTH_ERRORS,
    },
  },
  {
    method: 'post',
    path: '/v1/fraud/reports',
    operationId: 'reportFraud',
    summary: 'Report a payment as fraud (operations)',
    description:
      'A chargeback or cardholder claim: the label counts in the features of the payment\'s card and merchant from now on. ' +
      'Reporting the same payment again changes nothing and answers 200 with the first report.',
    tags: ['operations'],
    auth: { scope: 'ops' },
    body: fraudReportBody,
    responses: {
      201: { description: 'The report, recorded now', schema: fraudReport },
      200: { description: 'The payment was reported before: the first report', schema: fraudReport },
      400: E400,
      404: error('No such payment'),
      ...AUTH_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/reviews',
    operationId: 'listReviews',
    summary: 'Payments waiting for a fraud review decision, oldest first (operations)',
    description: 'Each with its score, reasons in words and deadline. Decide with POST /v1/payments/{id}/review.',
    tags: ['operations'],
    auth: { scope: 'ops' },
    query: reviewListQuery,
    responses: {
      200: { description: 'A page of the review queue', schema: reviewList },
      400: E400,
      ...AUTH_ERRORS,
    },
  },
  ...(['encode', 'decode'] as const).map(
    (direction): RouteSpec => ({
      method: 'post',
      path: `/codec/${direction}`,
      operationId: `codec${direction === 'encode' ? 'Encode' : 'Decode'}`,
      summary: `${direction === 'encode' ? 'Encrypt' : 'Decrypt'} Temporal payloads (remote codec for the Temporal Web UI)`,
      description: 'Temporal\'s remote codec protocol. Payloads never hold card data. Answers CORS preflights from the configured Web UI origins.',
      tags: ['codec'],
      auth: { scope: 'ops' },
      body: codecRequestBody,
      responses: {
        200: { description: `The ${direction}d payloads, in order`, schema: codecPayloads },
        400: error(direction === 'decode' ? 'Malformed, or a payload is not ours or was altered' : 'Malformed payloads'),
        ...AUTH_ERRORS,
      },
    }),
  ),
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This document (OpenAPI 3.1)',
    tags: ['docs'],
    auth: 'public',
    responses: { 200: { description: 'The OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get',
    path: '/docs',
    operationId: 'getApiReference',
    summary: 'Interactive API reference (served entirely by this process)',
    tags: ['docs'],
    auth: 'public',
    responses: { 200: { description: 'An HTML page', contentType: 'text/html', schema: z.string() } },
  },
  {
    method: 'get',
    path: '/docs/assets/{file}',
    operationId: 'getApiReferenceAsset',
    summary: 'A script or stylesheet of the API reference page',
    tags: ['docs'],
    auth: 'public',
    params: { file: docsAssetParam },
    responses: {
      200: { description: 'The file (JavaScript or CSS)', contentType: '*/*', schema: z.string() },
      404: error('No such asset'),
    },
  },
];

export interface RegisteredRoute {
  method: string;
  /** OpenAPI style, as in the route table. */
  path: string;
}

interface LayerLike {
  route?: { path: unknown; methods: Record<string, boolean | undefined> };
  handle?: unknown;
  slash?: boolean;
  rawPath?: unknown;
}

const stackOf = (handle: unknown): LayerLike[] | undefined => {
  if (typeof handle !== 'function') return undefined;
  const candidate = handle as unknown as { stack?: unknown; router?: { stack?: unknown } };
  if (Array.isArray(candidate.stack)) return candidate.stack as LayerLike[]; // a Router
  if (candidate.router && Array.isArray(candidate.router.stack)) return candidate.router.stack as LayerLike[]; // a mounted sub-app
  return undefined;
};

/** `/v1/payments/:id` → `/v1/payments/{id}`; refuses Express patterns OpenAPI cannot express. */
export function toOpenApiPath(expressPath: string): string {
  if (/[*?(){}]/.test(expressPath)) throw new Error(`Route ${expressPath} uses an Express pattern the OpenAPI document cannot describe`);
  return expressPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

/**
 * The routes an Express 5 app really registers, found by walking `app.router.stack`, nested
 * routers included (under their mount path). Middleware (`app.use(fn)`) is not a route.
 */
export function registeredRoutes(app: Express): RegisteredRoute[] {
  const found: RegisteredRoute[] = [];
  const walk = (stack: LayerLike[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) {
          if (typeof p !== 'string') throw new Error(`A route is registered with a non-string path (${String(p)}): describe it by hand`);
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (on && method !== '_all') found.push({ method: method.toLowerCase(), path: toOpenApiPath(prefix + p) });
          }
        }
        continue;
      }
      const nested = stackOf(layer.handle);
      if (!nested) continue;
      const mount = layer.slash ? '' : layer.rawPath;
      if (typeof mount !== 'string') throw new Error('A router is mounted at a non-string path: the route check cannot follow it');
      walk(nested, prefix + mount.replace(/\/$/, ''));
    }
  };
  walk((app as unknown as { router: { stack: LayerLike[] } }).router.stack, '');
  return found;
}
