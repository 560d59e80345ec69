import { Router, type Request, type Response } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import type { ActionResult, PaymentService } from '../payments/payment-service';
import { paymentView } from '../payments/payment-view';
import {
  cancelBody,
  captureBody,
  createPaymentBody,
  idempotencyKeyHeader,
  listQuery,
  paymentIdParam,
  refundBody,
  reviewBody,
} from '../payments/schemas';
import { parseInput } from '../validation';

/** The merchant is the subject of the bearer token (authenticated before these routes run). */
function merchantOf(res: Response): string {
  return principalOf(res).subject;
}

/** 200 with the payment once the action is done; 202 with the payment as it is while the action is under way. */
function answer(res: Response, result: ActionResult): void {
  res.status(result.done ? 200 : 202).json(paymentView(result.state));
}

export function paymentRoutes(payments: PaymentService): Router {
  const router = Router();
  const write = requireScope('payments:write');
  const read = requireScope('payments:read');

  router.post('/v1/payments', write, async (req, res) => {
    const merchantId = merchantOf(res);
    const key = parseInput(idempotencyKeyHeader, req.get('idempotency-key'), 'header', 'Idempotency-Key');
    const body = parseInput(createPaymentBody, req.body, 'body');
    const { status, payment } = await payments.create(merchantId, key, body);
    res.status(status).json(payment);
  });

  router.get('/v1/payments', read, async (req, res) => {
    const query = parseInput(listQuery, req.query, 'query');
    res.json(await payments.list(merchantOf(res), query));
  });

  router.get('/v1/payments/:id', read, async (req, res) => {
    const merchantId = merchantOf(res);
    res.json(await payments.get(merchantId, parseInput(paymentIdParam, req.params.id, 'path', 'id')));
  });

  router.post('/v1/payments/:id/capture', write, async (req, res) => {
    const merchantId = merchantOf(res);
    const id = parseInput(paymentIdParam, req.params.id, 'path', 'id');
    const body = parseInput(captureBody, req.body ?? {}, 'body');
    answer(res, await payments.capture(merchantId, id, body.amount, optionalKey(req)));
  });

  router.post('/v1/payments/:id/cancel', write, async (req, res) => {
    const merchantId = merchantOf(res);
    const id = parseInput(paymentIdParam, req.params.id, 'path', 'id');
    const body = parseInput(cancelBody, req.body ?? {}, 'body');
    answer(res, await payments.cancel(merchantId, id, body.reason, optionalKey(req)));
  });

  router.post('/v1/payments/:id/refunds', requireScope('refunds:write'), async (req, res) => {
    const merchantId = merchantOf(res);
    const id = parseInput(paymentIdParam, req.params.id, 'path', 'id');
    const body = parseInput(refundBody, req.body ?? {}, 'body');
    const idempotencyKey = optionalKey(req);
    const { httpStatus, refund } = await payments.refund(merchantId, id, { ...body, ...(idempotencyKey ? { idempotencyKey } : {}) });
    res.status(httpStatus).json(refund);
  });

  // Operations only: the token's subject is the operator, recorded on the payment and in the audit log.
  router.post('/v1/payments/:id/review', requireScope('ops'), async (req, res) => {
    const id = parseInput(paymentIdParam, req.params.id, 'path', 'id');
    const body = parseInput(reviewBody, req.body, 'body');
    answer(res, await payments.review(id, body.decision, `operator:${principalOf(res).subject}`, optionalKey(req)));
  });

  return router;
}

/** Actions take an optional Idempotency-Key: the same request retried with it reads the same answer. */
function optionalKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  return key === undefined ? undefined : parseInput(idempotencyKeyHeader, key, 'header', 'Idempotency-Key');
}
