import express, { type Express, type RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../../logging/logger';
import { SandboxError, routeNotFound, sandboxErrorHandler, unavailableBody } from './errors';
import { parseFaults, type FaultInjector } from './faults';
import { answerIdempotently, requestHash, type Answer, type IdempotentAnswer, type Operation } from './idempotency';
import type { Ledger } from './ledger';
import {
  IDEMPOTENCY_KEY_HEADER,
  amountRequestSchema,
  authorizationRequestSchema,
  emptyRequestSchema,
  idempotencyKeyOf,
  parseRequest,
  reversalRequestSchema,
} from './requests';
import { SandboxAcquirer } from './sandbox-acquirer';

const settlementReportQuery = z.strictObject({ date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`))) });

export interface SandboxDependencies {
  ledger: Ledger;
  faults: FaultInjector;
  logger: Logger;
}

/**
 * The acquirer sandbox's HTTP API, without listening (tests mount it on an ephemeral port):
 *
 *   POST /v1/authorizations                    201 approved | 402 declined (with capture_idempotency_key: a sale,
 *                                              201 approved with capture: {ref} or capture: {error})
 *   POST /v1/authorizations/:ref/capture       201 {ref: cap_...}
 *   POST /v1/authorizations/:ref/void          201 {ref: void_...}
 *   POST /v1/captures/:ref/refunds             201 {ref: ref_...}
 *   POST /v1/captures/:ref/settle              201 {ref: stl_...}
 *   POST /v1/reversals                         201 {outcome: voided|declined|closed|captured, ref?}
 *   GET  /v1/operations/:idempotencyKey        200 {status: answered, operation, http_status, response} | {status: not_received}
 *   GET  /v1/reports/settlement?date=YYYY-MM-DD  200 {date, lines: [...]}: the day's money movements (UTC)
 *   GET  /_sandbox/ledger, GET|PUT|DELETE /_sandbox/faults, GET /healthz
 *
 * Every POST needs an Idempotency-Key. Request bodies are never logged: they carry card data.
 */
export function createSandboxApp(deps: SandboxDependencies): Express {
  const acquirer = new SandboxAcquirer(deps.ledger);
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.post(
    '/v1/authorizations',
    moneyCall(deps, 'authorize', authorizationRequestSchema, (key, _ref, body) => acquirer.authorize(key, body)),
  );
  app.post(
    '/v1/authorizations/:ref/capture',
    moneyCall(deps, 'capture', amountRequestSchema, (key, ref, body) => acquirer.capture(key, ref, body)),
  );
  app.post(
    '/v1/authorizations/:ref/void',
    moneyCall(deps, 'void', emptyRequestSchema, (key, ref) => acquirer.void(key, ref)),
  );
  app.post(
    '/v1/captures/:ref/refunds',
    moneyCall(deps, 'refund', amountRequestSchema, (key, ref, body) => acquirer.refund(key, ref, body)),
  );
  app.post(
    '/v1/captures/:ref/settle',
    moneyCall(deps, 'settle', emptyRequestSchema, (key, ref) => acquirer.settle(key, ref)),
  );

  // The timeout reversal: faulted like a void (it is one, when it finds an authorization).
  app.post(
    '/v1/reversals',
    moneyCall(deps, 'reverse', reversalRequestSchema, (key, _ref, body) => acquirer.reverse(key, body.authorization_idempotency_key)),
  );

  // The status inquiry: what the acquirer holds under a key. Never faulted (see faults.ts).
  app.get('/v1/operations/:idempotencyKey', (req, res) => {
    const key = idempotencyKeyOf(String(req.params.idempotencyKey));
    const stored = deps.ledger.findAnswer(key);
    if (stored === undefined) {
      res.json({ idempotency_key: key, status: 'not_received' });
      return;
    }
    res.json({ idempotency_key: key, status: 'answered', operation: stored.operation, http_status: stored.httpStatus, response: stored.body });
  });

  // The daily settlement report the gateway reconciles with (src/reconciliation). Never faulted:
  // the gateway retries it like any read, and a day's report does not change once the day is over.
  app.get('/v1/reports/settlement', (req, res) => {
    const parsed = settlementReportQuery.safeParse(req.query);
    if (!parsed.success) throw new SandboxError(400, 'invalid_request', 'date must be YYYY-MM-DD (UTC)');
    const lines = deps.ledger.movementsOn(parsed.data.date).map((e) => ({
      ref: e.ref,
      kind: e.kind,
      parent_ref: e.parent_ref,
      amount: e.amount,
      currency: e.currency,
      merchant_id: e.merchant_id,
      idempotency_key: e.idempotency_key,
      created_at: e.created_at,
    }));
    res.json({ date: parsed.data.date, lines });
  });

  app.get('/_sandbox/ledger', (_req, res) => {
    res.json({ entries: deps.ledger.entries() });
  });
  app.get('/_sandbox/faults', (_req, res) => {
    res.json(deps.faults.current());
  });
  app.put('/_sandbox/faults', (req, res) => {
    let faults;
    try {
      faults = parseFaults(req.body);
    } catch (err) {
      throw new SandboxError(400, 'invalid_request', (err as Error).message);
    }
    const current = deps.faults.set(faults);
    deps.logger.info({ faults: current }, 'fault knobs set');
    res.json(current);
  });
  app.delete('/_sandbox/faults', (_req, res) => {
    const current = deps.faults.reset();
    deps.logger.info({ faults: current }, 'fault knobs reset');
    res.json(current);
  });

  app.use(routeNotFound);
  app.use(sandboxErrorHandler(deps.logger));
  return app;
}

/**
 * One money call: fault injection first (a hang or an error does nothing at all), then the
 * Idempotency-Key and the body are checked, then the operation runs idempotently; a lost answer
 * closes the connection after the work, a late one answers after the work and a delay.
 */
function moneyCall<S extends z.ZodType<object>>(
  deps: SandboxDependencies,
  operation: Operation,
  schema: S,
  execute: (idempotencyKey: string, ref: string, body: z.output<S>) => Answer,
): RequestHandler {
  return async (req, res) => {
    const ref: unknown = req.params.ref;
    const pathRef = typeof ref === 'string' ? ref : '';
    // The arrival, before any latency or fault: with the answer line below it shows which calls
    // were pending at the acquirer when a client gave up or a worker died.
    deps.logger.info({ operation, ref: pathRef || undefined, idempotencyKey: req.get(IDEMPOTENCY_KEY_HEADER) }, `${operation} received`);
    const fault = await deps.faults.inject(operation === 'reverse' ? 'void' : operation);
    if (fault === 'hang' || fault === 'error') {
      deps.logger.warn(
        { operation, ref: pathRef || undefined, idempotencyKey: req.get(IDEMPOTENCY_KEY_HEADER), fault },
        `${operation}: injected fault (${fault}), answering 503 without doing anything`,
      );
      res.status(503).set('Retry-After', '1').json(unavailableBody());
      return;
    }

    let idempotencyKey: string | undefined;
    try {
      idempotencyKey = idempotencyKeyOf(req.get(IDEMPOTENCY_KEY_HEADER));
      const body = parseRequest(schema, req.body);
      const request: Record<string, unknown> = { ...(body as object) };
      if (pathRef) request.ref = pathRef;
      const hash = requestHash(operation, request);
      const answer = answerIdempotently(deps.ledger, { idempotencyKey, operation, requestHash: hash }, () =>
        execute(idempotencyKey!, pathRef, body),
      );
      logAnswer(deps, operation, idempotencyKey, pathRef, answer);
      if (fault === 'lose_answer') {
        deps.logger.warn({ operation, idempotencyKey, fault }, `${operation}: injected fault (lose_answer), done and closing the connection without an answer`);
        req.socket.destroy();
        return;
      }
      if (fault === 'late_answer') {
        deps.logger.warn({ operation, idempotencyKey, fault }, `${operation}: injected fault (late_answer), done; answering late`);
        await deps.faults.delayAnswer();
        if (req.socket.destroyed) return;
      }
      if (answer.replayed) res.set('Idempotent-Replayed', 'true');
      if (!answer.final) res.set('Retry-After', '1');
      res.status(answer.httpStatus).json(answer.body);
    } catch (err) {
      if (err instanceof SandboxError) {
        deps.logger.info(
          { operation, ref: pathRef || undefined, idempotencyKey, httpStatus: err.httpStatus, code: err.code },
          `${operation} refused: ${err.code}`,
        );
      }
      throw err;
    }
  };
}

interface AnswerBody {
  ref?: string;
  status?: string;
  decline_code?: string;
  error?: { code?: string };
}

function logAnswer(deps: SandboxDependencies, operation: Operation, idempotencyKey: string, pathRef: string, answer: IdempotentAnswer): void {
  const body = answer.body as AnswerBody;
  // A replay wrote nothing now; the row it points to says what it was.
  const movement = ('movement' in answer ? answer.movement : undefined) ?? (body.ref === undefined ? undefined : deps.ledger.find(body.ref));
  const code = body.error?.code ?? body.decline_code;
  const outcome = !answer.final ? 'unavailable (transient)' : code !== undefined ? `${movement ? movement.status : 'refused'}: ${code}` : (movement?.status ?? 'done');
  deps.logger.info(
    {
      operation,
      idempotencyKey,
      httpStatus: answer.httpStatus,
      replayed: answer.replayed,
      ref: movement?.ref ?? (pathRef || undefined),
      parentRef: movement?.parent_ref ?? undefined,
      kind: movement?.kind,
      amount: movement?.amount,
      currency: movement?.currency,
      merchantId: movement?.merchant_id,
      status: movement?.status,
      code,
    },
    `${operation} ${outcome}${answer.replayed ? ' (replayed)' : ''}`,
  );
}
