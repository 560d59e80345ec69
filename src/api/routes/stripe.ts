import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import qs from 'qs';
import type { Logger } from '../../logging/logger';
import { principalOf, requireScope } from '../auth/middleware';
import type { Scope } from '../auth/verify-token';
import { idempotencyKeyHeader } from '../payments/schemas';
import { parseInput } from '../validation';
import { StripeIdempotency, type StoredAnswer } from '../stripe/idempotency';
import { STRIPE_API_VERSION } from '../stripe/objects';
import type { PaymentIntents } from '../stripe/payment-intents';
import type { PaymentMethods } from '../stripe/payment-methods';
import type { Refunds } from '../stripe/refunds';
import type { StripeEvents } from '../stripe/events';
import {
  cancelPaymentIntentParams,
  capturePaymentIntentParams,
  confirmPaymentIntentParams,
  createPaymentIntentParams,
  createPaymentMethodParams,
  createRefundParams,
  createWebhookEndpointParams,
  eventIdParam,
  listAttemptsParams,
  listEventsParams,
  listWebhookEndpointsParams,
  webhookEndpointIdParam,
  listPaymentIntentsParams,
  listRefundsParams,
  paymentIntentIdParam,
  paymentMethodIdParam,
  refundIdParam,
  retrieveParams,
  updatePaymentIntentParams,
} from '../stripe/schemas';
import { parseParams, StripeError, stripeErrorHandler } from '../stripe/stripe-errors';
import type { z } from 'zod';

/**
 * The Stripe-compatible routes (docs/stripe-compat.md), at Stripe's own paths so the official
 * client works with only `host`, `port` and `protocol` changed. Each row: method, path (Express
 * style), the scope it needs, and what it does. test/unit/stripe-compat-docs.test.ts checks this
 * table, the routes the app serves under these paths and the docs' table against each other.
 */
export const STRIPE_ROUTES: readonly { method: 'get' | 'post' | 'delete'; path: string; scope: Scope; summary: string }[] = [
  { method: 'post', path: '/v1/payment_methods', scope: 'payments:write', summary: 'Create a card payment method (tokenized by the vault)' },
  { method: 'get', path: '/v1/payment_methods/:id', scope: 'payments:read', summary: 'Retrieve a payment method' },
  { method: 'post', path: '/v1/payment_intents', scope: 'payments:write', summary: 'Create a payment intent (and confirm it with confirm=true)' },
  { method: 'get', path: '/v1/payment_intents', scope: 'payments:read', summary: 'List payment intents, newest first' },
  { method: 'get', path: '/v1/payment_intents/:id', scope: 'payments:read', summary: 'Retrieve a payment intent' },
  { method: 'post', path: '/v1/payment_intents/:id', scope: 'payments:write', summary: 'Update metadata, description (and amount or payment method before confirmation)' },
  { method: 'post', path: '/v1/payment_intents/:id/confirm', scope: 'payments:write', summary: 'Confirm: start the payment' },
  { method: 'post', path: '/v1/payment_intents/:id/capture', scope: 'payments:write', summary: 'Capture an authorized payment intent, in full or in part' },
  { method: 'post', path: '/v1/payment_intents/:id/cancel', scope: 'payments:write', summary: 'Cancel a payment intent (voids an authorization)' },
  { method: 'post', path: '/v1/refunds', scope: 'refunds:write', summary: "Refund a payment intent's payment, in full or in part" },
  { method: 'get', path: '/v1/refunds', scope: 'payments:read', summary: 'List refunds, newest first' },
  { method: 'get', path: '/v1/refunds/:id', scope: 'payments:read', summary: 'Retrieve a refund' },
  { method: 'post', path: '/v1/webhook_endpoints', scope: 'payments:write', summary: 'Create a webhook endpoint (its whsec_ secret is shown once)' },
  { method: 'get', path: '/v1/webhook_endpoints', scope: 'payments:read', summary: 'List webhook endpoints' },
  { method: 'get', path: '/v1/webhook_endpoints/:id', scope: 'payments:read', summary: 'Retrieve a webhook endpoint' },
  { method: 'delete', path: '/v1/webhook_endpoints/:id', scope: 'payments:write', summary: 'Delete a webhook endpoint' },
  { method: 'get', path: '/v1/webhook_endpoints/:id/attempts', scope: 'payments:read', summary: "An endpoint's recent delivery attempts (not a Stripe route)" },
  { method: 'get', path: '/v1/events', scope: 'payments:read', summary: 'List events of the last 30 days, newest first' },
  { method: 'get', path: '/v1/events/:id', scope: 'payments:read', summary: 'Retrieve an event' },
];

/** The path prefixes of the Stripe-compatible surface: form bodies are accepted under them only. */
export const STRIPE_PATH_PREFIXES = ['/v1/payment_methods', '/v1/payment_intents', '/v1/refunds', '/v1/webhook_endpoints', '/v1/events'] as const;

export function isStripePath(path: string): boolean {
  return STRIPE_PATH_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

/**
 * Before authentication, for Stripe paths: Stripe's headers on every answer (errors included)
 * and the form-encoded body parsed as Stripe's API nests it (`a[b]=`, `a[0]=`, `a[]=`).
 */
export function stripeEdge(): RequestHandler[] {
  const form = express.urlencoded({ extended: true, limit: '16kb', parameterLimit: 200 });
  return [
    (req, res, next) => {
      if (!isStripePath(req.path)) {
        next();
        return;
      }
      res.set('Request-Id', `req_${String(res.getHeader('X-Request-Id') ?? '').replace(/[^A-Za-z0-9]/g, '').slice(0, 32)}`);
      const version = req.get('stripe-version');
      res.set('Stripe-Version', version && /^[0-9]{4}-[0-9]{2}-[0-9]{2}(\.[a-z]+)?$/.test(version) ? version : STRIPE_API_VERSION);
      res.locals.stripe = true;
      next();
    },
    (req, res, next) => (res.locals.stripe ? form(req, res, next) : next()),
  ];
}

export interface StripeServices {
  methods: PaymentMethods;
  intents: PaymentIntents;
  refunds: Refunds;
  events: StripeEvents;
  idempotency: StripeIdempotency;
  logger: Logger;
}

export function stripeRoutes(services: StripeServices): Router {
  const { methods, intents, refunds, events, idempotency } = services;
  const router = Router();
  const scope = Object.fromEntries(STRIPE_ROUTES.map((r) => [`${r.method} ${r.path}`, requireScope(r.scope)]));
  const guard = (method: string, path: string) => scope[`${method} ${path}`]!;
  const merchant = (res: Response) => principalOf(res).subject;
  const query = (req: Request) => qs.parse(req.originalUrl.split('?')[1] ?? '', { depth: 3, arrayLimit: 20, parameterLimit: 100 });
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const key = (req: Request) => {
    const value = req.get('idempotency-key');
    return value === undefined ? undefined : parseInput(idempotencyKeyHeader, value, 'header', 'Idempotency-Key');
  };
  const send = (res: Response, answer: StoredAnswer & { replayed?: boolean }) => {
    if (answer.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(answer.status).json(answer.body);
  };
  /** A POST: validated first (a refused request saves nothing), then run once per Idempotency-Key. */
  const post = (path: string, handle: (req: Request, res: Response) => { params: unknown; hashed?: unknown; run: () => Promise<unknown> }) => {
    router.post(path, guard('post', path), async (req, res) => {
      const idempotencyKey = key(req);
      const { params, hashed, run } = handle(req, res);
      const hash = StripeIdempotency.hash('POST', req.path, hashed ?? params);
      send(res, await idempotency.run(merchant(res), idempotencyKey, hash, async () => ({ status: 200, body: await run() })));
    });
  };

  post('/v1/payment_methods', (req, res) => {
    const params = parseParams(createPaymentMethodParams, body(req));
    // The hash of a request must not be a way to test guesses of a card number: BIN, last 4, length and expiry only.
    const { number, cvc: _cvc, ...card } = params.card;
    const hashed = { ...params, card: { ...card, number: `${number.slice(0, 6)}…${number.slice(-4)}/${number.length}` } };
    return { params, hashed, run: () => methods.create(merchant(res), params) };
  });
  router.get('/v1/payment_methods/:id', guard('get', '/v1/payment_methods/:id'), async (req, res) => {
    parseParams(retrieveParams, query(req));
    res.json(await methods.get(merchant(res), objectId(paymentMethodIdParam, req.params.id, 'PaymentMethod')));
  });

  post('/v1/payment_intents', (req, res) => {
    const params = parseParams(createPaymentIntentParams, body(req));
    return { params, run: () => intents.create(merchant(res), params) };
  });
  router.get('/v1/payment_intents', guard('get', '/v1/payment_intents'), async (req, res) => {
    res.json(await intents.list(merchant(res), parseParams(listPaymentIntentsParams, query(req))));
  });
  router.get('/v1/payment_intents/:id', guard('get', '/v1/payment_intents/:id'), async (req, res) => {
    parseParams(retrieveParams, query(req));
    res.json(await intents.get(merchant(res), intentId(req)));
  });
  post('/v1/payment_intents/:id', (req, res) => {
    const params = parseParams(updatePaymentIntentParams, body(req));
    return { params: { id: intentId(req), ...params }, run: () => intents.update(merchant(res), intentId(req), params) };
  });
  post('/v1/payment_intents/:id/confirm', (req, res) => {
    const params = parseParams(confirmPaymentIntentParams, body(req));
    return { params, run: () => intents.confirm(merchant(res), intentId(req), params) };
  });
  post('/v1/payment_intents/:id/capture', (req, res) => {
    const params = parseParams(capturePaymentIntentParams, body(req));
    return { params, run: () => intents.capture(merchant(res), intentId(req), params.amount_to_capture, key(req)) };
  });
  post('/v1/payment_intents/:id/cancel', (req, res) => {
    const params = parseParams(cancelPaymentIntentParams, body(req));
    return { params, run: () => intents.cancel(merchant(res), intentId(req), params.cancellation_reason, key(req)) };
  });

  post('/v1/refunds', (req, res) => {
    const params = parseParams(createRefundParams, body(req));
    return { params, run: () => refunds.create(merchant(res), params, key(req)) };
  });
  router.get('/v1/refunds', guard('get', '/v1/refunds'), async (req, res) => {
    res.json(await refunds.list(merchant(res), parseParams(listRefundsParams, query(req))));
  });
  router.get('/v1/refunds/:id', guard('get', '/v1/refunds/:id'), async (req, res) => {
    parseParams(retrieveParams, query(req));
    res.json(await refunds.get(merchant(res), objectId(refundIdParam, req.params.id, 'refund')));
  });

  post('/v1/webhook_endpoints', (req, res) => {
    const params = parseParams(createWebhookEndpointParams, body(req));
    return { params, run: () => events.createEndpoint(merchant(res), params) };
  });
  router.get('/v1/webhook_endpoints', guard('get', '/v1/webhook_endpoints'), async (req, res) => {
    parseParams(listWebhookEndpointsParams, query(req));
    res.json(await events.listEndpoints(merchant(res)));
  });
  router.get('/v1/webhook_endpoints/:id', guard('get', '/v1/webhook_endpoints/:id'), async (req, res) => {
    parseParams(retrieveParams, query(req));
    res.json(await events.endpoint(merchant(res), objectId(webhookEndpointIdParam, req.params.id, 'webhook endpoint')));
  });
  router.delete('/v1/webhook_endpoints/:id', guard('delete', '/v1/webhook_endpoints/:id'), async (req, res) => {
    res.json(await events.deleteEndpoint(merchant(res), objectId(webhookEndpointIdParam, req.params.id, 'webhook endpoint')));
  });
  router.get('/v1/webhook_endpoints/:id/attempts', guard('get', '/v1/webhook_endpoints/:id/attempts'), async (req, res) => {
    const { limit } = parseParams(listAttemptsParams, query(req));
    res.json(await events.attempts(merchant(res), objectId(webhookEndpointIdParam, req.params.id, 'webhook endpoint'), limit));
  });
  router.get('/v1/events', guard('get', '/v1/events'), async (req, res) => {
    res.json(await events.listEvents(merchant(res), parseParams(listEventsParams, query(req))));
  });
  router.get('/v1/events/:id', guard('get', '/v1/events/:id'), async (req, res) => {
    parseParams(retrieveParams, query(req));
    res.json(await events.event(merchant(res), objectId(eventIdParam, req.params.id, 'event')));
  });

  router.use(stripeErrorHandler(services.logger));
  return router;
}

function intentId(req: Request): string {
  return objectId(paymentIntentIdParam, req.params.id, 'payment_intent');
}

/** An id that cannot be one of ours names nothing: 404, as Stripe answers. */
function objectId(schema: z.ZodType<string>, id: unknown, kind: string): string {
  const parsed = schema.safeParse(id);
  if (parsed.success) return parsed.data;
  // The value is not echoed: a path can carry anything, card data included.
  throw new StripeError(404, 'invalid_request_error', 'resource_missing', `No such ${kind}: the id is not one of ours`, { param: 'id' });
}
