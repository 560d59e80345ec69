import { execFileSync } from 'node:child_process';
import { parseInput } from '../../src/api/validation';
import { once } from 'node:events';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Express } from 'express';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { createApp } from '../../src/api/app';
import { loadAuthConfig } from '../../src/api/auth/auth-config';
import { authenticate } from '../../src/api/auth/middleware';
import { createTokenVerifier, SCOPES, type Scope } from '../../src/api/auth/verify-token';
import type { ErrorBody } from '../../src/api/errors';
import { FraudOpsService, type FraudReportView } from '../../src/api/fraud/fraud-ops-service';
import { buildOpenApiDocument, type OpenApiDocument } from '../../src/api/openapi/document';
import {
  errorResponse,
  fraudReport,
  payment,
  paymentList,
  readiness,
  refund,
  RESPONSE_SCHEMAS,
  reviewList,
} from '../../src/api/openapi/response-schemas';
import { DOCS_ASSET_FILES, REQUEST_SCHEMAS, registeredRoutes, ROUTES, toOpenApiPath } from '../../src/api/openapi/routes';
import { ApiKeys } from '../../src/api/auth/api-keys';
import { isStripePath, STRIPE_ROUTES } from '../../src/api/routes/stripe';
import { stripeServices } from '../../src/api/stripe/stripe-services';
import { paymentView, type PaymentView } from '../../src/api/payments/payment-view';
import { PaymentService } from '../../src/api/payments/payment-service';
import {
  cancelBody,
  captureBody,
  createPaymentBody,
  idempotencyKeyHeader,
  listQuery,
  paymentIdParam,
  refundBody,
  reviewBody,
} from '../../src/api/payments/schemas';
import type { ReadinessReport } from '../../src/api/readiness';
import { AuditLog } from '../../src/audit/audit-log';
import { CardDataAttestations } from '../../src/audit/card-data-attestation';
import { createLogger } from '../../src/logging/logger';
import { migrate } from '../../src/storage/migrate';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { EncryptionCodec } from '../../src/temporal/payload-codec';
import { PaymentRecords } from '../../src/records/payment-records';
import { BalanceService } from '../../src/api/balance/balance-service';
import { LedgerReader } from '../../src/ledger/merchant-ledger';
import { ReconciliationReports } from '../../src/reconciliation/reconciliation-reports';
import { CardIntake } from '../../src/vault/card-intake';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import type { PaymentState } from '../../src/workflows/payment/state';

/**
 * The OpenAPI document (issue 5): valid OpenAPI 3.1, generated from the very schemas the routes
 * validate with, describing exactly the routes the real Express app registers, and served with
 * an offline reference page.
 */

const ROOT = path.resolve(__dirname, '../..');

// ---------------------------------------------------------------------------------------------
// Compile-time: the response schemas describe the objects the code builds. `Out extends View`
// catches a field the code has and the schema lacks (or types differently); `View extends
// Widen<Out>` catches the reverse (literals widened: the code types `object` as string).
type Widen<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : T extends null | undefined ? T : T extends readonly (infer U)[] ? Widen<U>[] : T extends object ? { [K in keyof T]: Widen<T[K]> } : T;
type Describes<Schema extends z.ZodType, View> = [z.output<Schema>] extends [View] ? ([View] extends [Widen<z.output<Schema>>] ? true : false) : false;
type Covers<Schema extends z.ZodType, View> = [z.output<Schema>] extends [View] ? true : false;
const typeChecks: {
  payment: Describes<typeof payment, PaymentView>;
  refund: Describes<typeof refund, Awaited<ReturnType<PaymentService['refund']>>['refund']>;
  error: Describes<typeof errorResponse, ErrorBody>;
  readiness: Describes<typeof readiness, ReadinessReport & { status: 'ready' | 'unavailable' }>;
  // The list reads search attributes as `unknown`: only one direction can be checked.
  list: Covers<typeof paymentList, Awaited<ReturnType<PaymentService['list']>>>;
  fraudReport: Describes<typeof fraudReport, FraudReportView>;
  reviews: Describes<typeof reviewList, Awaited<ReturnType<FraudOpsService['listReviews']>>>;
} = { payment: true, refund: true, error: true, readiness: true, list: true, fraudReport: true, reviews: true };

/** Validates with @seriousme/openapi-schema-validator (ESM-only: run in a child Node process) and Ajv 2020. */
function validateExternally(doc: OpenApiDocument, samples: { component: string; value: unknown }[]) {
  const script = `
    import { createRequire } from 'node:module';
    import { Validator } from '@seriousme/openapi-schema-validator';
    const require = createRequire(import.meta.resolve('@seriousme/openapi-schema-validator'));
    const Ajv2020 = require('ajv/dist/2020.js');
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    const { doc, samples } = JSON.parse(input);
    const validator = new Validator();
    const openapi = await validator.validate(structuredClone(doc));
    // Every component must also compile as strict JSON Schema 2020-12 (what OpenAPI 3.1 uses).
    const defs = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', '#/$defs/'));
    const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
    ajv.addSchema({ $id: 'urn:gateway:components', $defs: defs });
    const schemaErrors = [];
    for (const id of Object.keys(defs)) {
      try { ajv.getSchema('urn:gateway:components#/$defs/' + id); } catch (e) { schemaErrors.push(id + ': ' + e.message); }
    }
    const sampleErrors = [];
    for (const { component, value } of samples) {
      const validate = ajv.getSchema('urn:gateway:components#/$defs/' + component);
      if (!validate(value)) sampleErrors.push(component + ': ' + ajv.errorsText(validate.errors));
    }
    process.stdout.write(JSON.stringify({ openapi: { valid: openapi.valid, version: validator.version, errors: openapi.errors ?? null }, schemaErrors, sampleErrors }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, input: JSON.stringify({ doc, samples }), encoding: 'utf8' });
  return JSON.parse(out) as { openapi: { valid: boolean; version: string; errors: unknown }; schemaErrors: string[]; sampleErrors: string[] };
}

function paymentState(overrides: Partial<PaymentState> = {}): PaymentState {
  return {
    id: 'pay_0123456789abcdef01234567',
    merchantId: 'm_1',
    status: 'requires_capture',
    amount: 1999,
    currency: 'USD',
    captureMethod: 'manual',
    metadata: {},
    amountCapturable: 1999,
    amountCaptured: 0,
    amountRefunded: 0,
    card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2030 },
    refunds: [],
    createdAt: '2030-01-01T10:00:00.000Z',
    requestHash: 'h',
    timeline: [{ at: '2030-01-01T10:00:00.000Z', event: 'created' }],
    ...overrides,
  };
}

/** Every optional field set. */
const fullState = paymentState({
  status: 'partially_refunded',
  description: 'order 42',
  metadata: { order: '42' },
  amountCapturable: 0,
  amountCaptured: 1999,
  amountRefunded: 500,
  card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2030, fingerprint: 'fp_1', issuingCountry: 'US' },
  fraud: {
    decision: 'review',
    reasons: [{ rule: 'amount', detail: 'large' }],
    reviewedBy: 'operator:ann',
    score: 0.42,
    modelVersion: 'fraud-v1',
    scoredAt: new Date(1).toISOString(),
    explanations: [{ code: 'card_tx_1h', detail: '3 earlier payments with this card in the last hour', contribution: 0.8 }],
    reviewDeadline: '2030-01-02T10:00:00.000Z',
  },
  declineCode: 'generic_decline',
  failure: { code: 'capture_failed', message: 'no' },
  refunds: [
    { id: 're_1', amount: 500, status: 'succeeded', acquirerRef: 'acq', createdAt: '2030-01-02T10:00:00.000Z' },
    { id: 're_2', amount: 100, status: 'failed', failureReason: 'declined', createdAt: '2030-01-02T11:00:00.000Z' },
  ],
  captureBefore: '2030-01-08T10:00:00.000Z',
  settledAt: '2030-01-01T22:00:00.000Z',
  refundableUntil: '2030-06-30T22:00:00.000Z',
  timeline: [{ at: '2030-01-01T10:00:00.000Z', event: 'authorization', detail: 'approved' }],
});

/** The JSON Schema a request schema must have in the document: computed here, independently of document.ts. */
function expectedInput(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return rest;
}

describe('OpenAPI document', () => {
  const doc = buildOpenApiDocument();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-'));
  let db: SqliteDb;
  let client: Client;
  let app: Express;
  let server: Server;
  let base: string;
  let token: (scopes: readonly Scope[]) => Promise<string>;

  beforeAll(async () => {
    // The real app with real dependencies; the Temporal connection is lazy and never used here.
    db = SqliteDb.open(path.join(dir, 'vault.db'));
    await migrate(db);
    const keys = LocalKeyProvider.open(path.join(dir, 'master-key.json'));
    client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const auth = loadAuthConfig({ JWT_SECRET: 'openapi-test-secret-openapi-test-secret' }, dir);
    if (auth.key.kind !== 'secret') throw new Error('expected an HS256 secret');
    const secret = auth.key.secret;
    token = (scopes) =>
      new SignJWT({ scope: scopes.join(' ') })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(auth.issuer)
        .setAudience(auth.audience)
        .setSubject('m_openapi')
        .setExpirationTime('5m')
        .sign(secret);
    const audit = new AuditLog(db);
    const intake = new CardIntake(db, audit, { ttlMs: 60_000 });
    const payments = new PaymentService(client, intake, audit, new PaymentRecords(db, 86_400_000), {
      policy: { authorizationExpiryMs: 1, reviewDeadlineMs: 1, settlementCutoffUtc: '22:00', refundWindowMs: 1 },
      authorizationWaitMs: 100,
    });
    app = createApp({
      client,
      logger: createLogger({ name: 'api', level: 'silent' }),
      readinessTimeoutMs: 1000,
      codec: new EncryptionCodec(keys),
      codecAllowedOrigins: [],
      payments,
      balance: new BalanceService(new LedgerReader(db)),
      reconciliation: new ReconciliationReports(db),
      fraud: new FraudOpsService(client, audit),
      cardData: new CardDataAttestations(db),
      authenticate: authenticate(createTokenVerifier(auth), { apiKeys: new ApiKeys(db) }),
      verifier: createTokenVerifier(auth),
      stripe: stripeServices({ db, client, intake, payments, records: new PaymentRecords(db, 86_400_000), cvvTtlMs: 60_000, logger: createLogger({ name: 'api', level: 'silent' }) }),
    });
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await client?.connection.close().catch(() => undefined);
    await db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is valid OpenAPI 3.1, its schemas are valid JSON Schema 2020-12, and real responses match them', () => {
    expect(typeChecks).toEqual({ payment: true, refund: true, error: true, readiness: true, list: true, fraudReport: true, reviews: true });
    const result = validateExternally(doc, [
      { component: 'Payment', value: paymentView(paymentState()) },
      { component: 'Payment', value: paymentView(fullState) },
      { component: 'FraudReport', value: { object: 'fraud_report', payment: 'pay_0123456789abcdef01234567', scored: true, reason: null, reported_by: 'operator:ann', reported_at: '2030-01-02T10:00:00.000Z' } },
      {
        component: 'ReviewList',
        value: {
          object: 'list',
          has_more: false,
          next_cursor: null,
          data: [
            {
              object: 'review',
              payment: 'pay_0123456789abcdef01234567',
              merchant: 'm_1',
              amount: 1999,
              currency: 'USD',
              created: '2030-01-01T10:00:00.000Z',
              deadline: '2030-01-02T10:00:00.000Z',
              fraud: { decision: 'review', score: 0.2, model_version: 'v1', reasons: [], explanations: [{ code: 'card_tx_1h', detail: '3 earlier payments', contribution: 0.7 }] },
            },
          ],
        },
      },
      { component: 'AcceptedPayment', value: { id: 'pay_1', object: 'payment', status: 'processing' } },
      { component: 'Error', value: { error: { type: 'invalid_request_error', code: 'parameter_missing', message: 'amount: required', param: 'amount' } } },
      { component: 'CreatePaymentRequest', value: { amount: 100, currency: 'usd', card: { number: '4242424242424242', exp_month: 12, exp_year: 2030, cvc: '123' } } },
    ]);
    expect(result.openapi).toEqual({ valid: true, version: '3.1', errors: null });
    expect(result.schemaErrors).toEqual([]);
    expect(result.sampleErrors).toEqual([]);
    expect(doc.info).toMatchObject({ title: 'card-gateway', version: JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version });
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }) });
  });

  it('the response schemas accept the views the code builds, and refuse an undescribed field', () => {
    expect(payment.safeParse(paymentView(paymentState())).success).toBe(true);
    expect(payment.safeParse(paymentView(fullState)).error).toBeUndefined();
    expect(payment.safeParse({ ...paymentView(fullState), pan: '4242424242424242' }).success).toBe(false);
  });

  it('describes every route the app serves, and the app serves every route it describes', () => {
    const key = (r: { method: string; path: string }) => `${r.method.toUpperCase()} ${r.path}`;
    // The Stripe-compatible routes are described by docs/stripe-compat.md (the next test), not by OpenAPI.
    const served = new Set(registeredRoutes(app).filter((r) => !isStripePath(r.path)).map(key));
    const described = new Set(ROUTES.map(key));
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`)));
    expect({ servedButNotDescribed: [...served].filter((r) => !described.has(r)), describedButNotServed: [...described].filter((r) => !served.has(r)) }).toEqual({
      servedButNotDescribed: [],
      describedButNotServed: [],
    });
    expect([...documented].sort()).toEqual([...described].sort());
    // The walk itself finds what it should (so an empty walk cannot pass the comparison).
    expect(served).toContain('POST /v1/payments/{id}/refunds');
    expect(served).toContain('GET /healthz');
  });

  it('serves the Stripe-compatible routes docs/stripe-compat.md lists, and no others under their paths', () => {
    const key = (r: { method: string; path: string }) => `${r.method.toUpperCase()} ${r.path}`;
    const served = registeredRoutes(app).filter((r) => isStripePath(r.path)).map(key).sort();
    const table = STRIPE_ROUTES.map((r) => key({ method: r.method, path: toOpenApiPath(r.path) })).sort();
    const docs = fs.readFileSync(path.join(ROOT, 'docs', 'stripe-compat.md'), 'utf8');
    const documented = [...docs.matchAll(/^\| (GET|POST|DELETE) \| (\/v1\/[^ |]+) \| ([a-z:]+) \|/gm)].map((m) => `${m[1]} ${toOpenApiPath(m[2]!)}`).sort();
    expect(served.length).toBeGreaterThanOrEqual(12);
    expect(served).toEqual(table);
    expect(documented).toEqual(table);
    // The scope the docs give each route is the one the table (and so the route) requires.
    const scopes = Object.fromEntries([...docs.matchAll(/^\| (GET|POST|DELETE) \| (\/v1\/[^ |]+) \| ([a-z:]+) \|/gm)].map((m) => [`${m[1]} ${m[2]}`, m[3]]));
    for (const r of STRIPE_ROUTES) expect({ route: key(r), scope: scopes[key(r)] }).toEqual({ route: key(r), scope: r.scope });
  });

  it('the Stripe routes refuse without a key (401) and without the scope (403), in Stripe\'s error shape', async () => {
    for (const route of STRIPE_ROUTES) {
      const url = `${base}${route.path.replace(/:id/, 'pi_000000000000000000000000')}`;
      const call = (bearer?: string) =>
        fetch(url, { method: route.method.toUpperCase(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, ...(route.method === 'get' ? {} : { body: '' }) });
      const anonymous = await call();
      const badKey = await call(`sk_test_${'0'.repeat(32)}`);
      const others = await call(await token(SCOPES.filter((s) => s !== route.scope)));
      expect({ route: `${route.method} ${route.path}`, anonymous: anonymous.status, badKey: badKey.status, others: others.status }).toEqual({ route: `${route.method} ${route.path}`, anonymous: 401, badKey: 401, others: 403 });
      expect(await badKey.json()).toMatchObject({ error: { type: 'authentication_error', code: 'api_key_invalid' } });
      expect(badKey.headers.get('request-id')).toMatch(/^req_/);
      expect(badKey.headers.get('stripe-version')).toMatch(/^\d{4}-\d{2}-\d{2}/);
    }
  });

  it('describes requests with the exact JSON Schema of the schemas the routes validate with', () => {
    const components = doc.components.schemas;
    expect(components.CreatePaymentRequest).toEqual(expectedInput(createPaymentBody));
    expect(components.CaptureRequest).toEqual(expectedInput(captureBody));
    expect(components.CancelRequest).toEqual(expectedInput(cancelBody));
    expect(components.RefundRequest).toEqual(expectedInput(refundBody));
    expect(components.ReviewRequest).toEqual(expectedInput(reviewBody));
    // The table names the imported objects themselves, not look-alikes.
    expect(REQUEST_SCHEMAS).toMatchObject({ CreatePaymentRequest: createPaymentBody, CaptureRequest: captureBody, CancelRequest: cancelBody, RefundRequest: refundBody, ReviewRequest: reviewBody });

    const op = (method: string, p: string) => doc.paths[p]![method] as { parameters?: { name: string; in: string; required: boolean; schema: unknown }[]; requestBody?: { required: boolean; content: Record<string, { schema: unknown }> } };
    const bodyRef = (method: string, p: string) => op(method, p).requestBody?.content['application/json']?.schema;
    expect(bodyRef('post', '/v1/payments')).toEqual({ $ref: '#/components/schemas/CreatePaymentRequest' });
    expect(bodyRef('post', '/v1/payments/{id}/capture')).toEqual({ $ref: '#/components/schemas/CaptureRequest' });
    expect(bodyRef('post', '/v1/payments/{id}/cancel')).toEqual({ $ref: '#/components/schemas/CancelRequest' });
    expect(bodyRef('post', '/v1/payments/{id}/refunds')).toEqual({ $ref: '#/components/schemas/RefundRequest' });
    expect(bodyRef('post', '/v1/payments/{id}/review')).toEqual({ $ref: '#/components/schemas/ReviewRequest' });
    expect(op('post', '/v1/payments').requestBody?.required).toBe(true);
    expect(op('post', '/v1/payments/{id}/capture').requestBody?.required).toBe(false);

    // Query: one parameter per property of listQuery, with its schema.
    const list = expectedInput(listQuery) as { properties: Record<string, unknown>; required?: string[] };
    expect(op('get', '/v1/payments').parameters?.filter((p) => p.in === 'query')).toEqual(
      Object.entries(list.properties).map(([name, schema]) => ({ name, in: 'query', required: (list.required ?? []).includes(name), schema })),
    );
    // Path and headers.
    for (const p of ['/v1/payments/{id}', '/v1/payments/{id}/capture', '/v1/payments/{id}/cancel', '/v1/payments/{id}/refunds', '/v1/payments/{id}/review']) {
      const method = p === '/v1/payments/{id}' ? 'get' : 'post';
      expect(op(method, p).parameters).toContainEqual({ name: 'id', in: 'path', required: true, schema: expectedInput(paymentIdParam) });
    }
    expect(op('post', '/v1/payments').parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true, schema: expectedInput(idempotencyKeyHeader) }));
    expect(op('post', '/v1/payments/{id}/refunds').parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false }));
  });

  it('documents the scope each route really requires: no token 401, a token without it 403, with only it past authentication', async () => {
    const secured = ROUTES.filter((r) => r.auth !== 'public');
    expect(secured.length).toBeGreaterThan(5);
    for (const route of ROUTES) {
      const op = doc.paths[route.path]![route.method] as { security: unknown };
      expect({ route: route.operationId, security: op.security }).toEqual({
        route: route.operationId,
        security: route.auth === 'public' ? [] : [{ bearerAuth: [route.auth.scope] }],
      });
    }
    // A request each route refuses with a 400 once past authentication, before touching Temporal:
    // an invalid path id, limit=0, an empty body (no Idempotency-Key, no payloads).
    const call = (route: (typeof ROUTES)[number], bearer?: string) =>
      fetch(`${base}${route.path.replace(/\{[^}]+\}/g, 'not-an-id')}${route.method === 'get' ? '?limit=0' : ''}`, {
        method: route.method.toUpperCase(),
        headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
        ...(route.method === 'get' ? {} : { body: '{}' }),
      });
    for (const route of secured) {
      const scope = (route.auth as { scope: Scope }).scope;
      const anonymous = await call(route);
      const others = await call(route, await token(SCOPES.filter((s) => s !== scope)));
      const only = await call(route, await token([scope]));
      expect({ route: route.operationId, anonymous: anonymous.status, others: others.status, only: only.status }).toEqual({
        route: route.operationId,
        anonymous: 401,
        others: 403,
        only: 400,
      });
      expect(others.headers.get('www-authenticate')).toContain(`scope="${scope}"`);
    }
    // And the public ones answer without a token.
    for (const route of ROUTES.filter((r) => r.auth === 'public' && !r.path.includes('{'))) {
      if (route.path === '/readyz') continue; // would wait for Temporal
      if (route.method !== 'get') continue; // the sign-in form post is tested with the codec (payload-encryption.test.ts)
      const res = await fetch(`${base}${route.path}`);
      expect({ route: route.operationId, status: res.status }).toEqual({ route: route.operationId, status: 200 });
    }
  });

  it('every response component is used, and every JSON response refers to a component or a plain schema', () => {
    const text = JSON.stringify(doc.paths);
    for (const id of Object.keys(RESPONSE_SCHEMAS).filter((id) => !['RefundSummary', 'PaymentListItem', 'ProcessingPayment', 'Review', 'BalanceTransaction'].includes(id))) {
      expect({ id, used: text.includes(`"#/components/schemas/${id}"`) }).toEqual({ id, used: true });
    }
  });

  it('serves /openapi.json and an offline /docs page over HTTP', async () => {
    const json = await fetch(`${base}/openapi.json`);
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json.json()).toEqual(JSON.parse(JSON.stringify(doc)));

    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const urls = [...html.matchAll(/\b(?:src|href|data-spec-url)="([^"]*)"/g)].map((m) => m[1]!);
    expect(urls.sort()).toEqual(['/docs/assets/docs.js', '/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css', '/openapi.json']);
    expect(urls.map((u) => u.replace('/docs/assets/', '')).filter((u) => !u.startsWith('/')).sort()).toEqual([...DOCS_ASSET_FILES].sort());
    for (const url of urls) {
      const asset = await fetch(new URL(url, base));
      expect({ url, status: asset.status }).toEqual({ url, status: 200 });
      if (url.endsWith('.js')) expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
      if (url.endsWith('.css')) expect(asset.headers.get('content-type')).toMatch(/^text\/css/);
      const body = await asset.text();
      expect(body.length).toBeGreaterThan(url.endsWith('docs.js') ? 100 : 10_000);
      if (url.endsWith('docs.js')) expect(body).not.toMatch(/https?:\/\//);
    }
    const missing = await fetch(`${base}/docs/assets/package.json`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { type: 'not_found_error', code: 'asset_not_found' } });
  });

  it('answers 405 with an Allow header and the JSON error for a method a known path does not serve; 404 for unknown paths', async () => {
    const bearer = { Authorization: `Bearer ${await token(['payments:write', 'payments:read', 'refunds:write', 'ops'])}` };
    const cases: [string, string, string][] = [
      ['DELETE', '/v1/payments', 'GET, HEAD, POST'],
      ['PUT', '/v1/payments/pay_0123456789abcdef01234567', 'GET, HEAD'],
      ['GET', '/v1/payments/pay_0123456789abcdef01234567/capture', 'POST'],
      ['PATCH', '/healthz', 'GET, HEAD'],
      ['POST', '/openapi.json', 'GET, HEAD'],
    ];
    for (const [method, url, allow] of cases) {
      const response = await fetch(`${base}${url}`, { method, headers: bearer });
      const body = (await response.json()) as { error: { type: string; code: string; message: string } };
      expect({ method, url, status: response.status, allow: response.headers.get('allow'), code: body.error.code }).toEqual({ method, url, status: 405, allow, code: 'method_not_allowed' });
      // The message names the route's pattern, not the raw path (which may hold anything).
      expect(body.error.message).not.toContain('pay_0123456789abcdef01234567');
    }
    // Every 405 agrees with the document: the methods it lists are the ones the document declares for that path.
    for (const [, url, allow] of cases) {
      const documented = Object.entries(doc.paths).find(([p]) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(url))!;
      const declared = Object.keys(documented[1]).map((m) => m.toUpperCase());
      expect(allow.split(', ').filter((m) => m !== 'HEAD').sort()).toEqual(declared.sort());
    }
    expect((await fetch(`${base}/v1/nothing-here`, { method: 'DELETE', headers: bearer })).status).toBe(404);
  });

  it('states what validation enforces: the currency list, edge statuses on every route, links from a created payment, no /metrics', () => {
    const create = doc.paths['/v1/payments']!.post as { requestBody: { content: { 'application/json': { schema: { $ref: string } } } }; responses: Record<string, { links?: Record<string, { operationId: string }> }> };
    const body = doc.components.schemas.CreatePaymentRequest as { properties: { currency: { enum: string[] } } };
    expect(body.properties.currency.enum).toEqual(expect.arrayContaining(['USD', 'usd', 'EUR', 'eur']));
    expect(() => parseInput(createPaymentBody, { amount: 1, currency: 'XYZ', card: {} }, 'body')).toThrow(/currency/);
    for (const status of ['200', '201', '202']) {
      expect(Object.values(create.responses[status]!.links ?? {}).map((l) => l.operationId).sort()).toEqual(['cancelPayment', 'capturePayment', 'getPayment', 'refundPayment']);
    }
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item as Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>)) {
        const limited = !['/healthz', '/readyz'].includes(p);
        expect({ route: `${method} ${p}`, has429: '429' in op.responses }).toEqual({ route: `${method} ${p}`, has429: limited });
        if (op.requestBody) expect({ route: `${method} ${p}`, has: ['413', '415'].every((s) => s in op.responses) }).toEqual({ route: `${method} ${p}`, has: true });
      }
    }
    const reconciliation = (doc.paths['/v1/reconciliation/{date}']!.get as { parameters: { schema: { format?: string } }[] }).parameters[0]!.schema;
    expect(reconciliation.format).toBe('date');
    expect(doc.paths['/metrics']).toBeUndefined();
  });

  it('GET /metrics is not served on the API port', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
  });
});
