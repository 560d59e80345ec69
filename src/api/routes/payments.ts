import { Router, type Request } from 'express';
import { ApiError } from '../errors';
import type { PaymentService } from '../payments/payment-service';
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

/**
 * The merchant's identity. Until JWT authentication lands (issue 5) it comes from the
 * `X-Merchant-Id` header; every route takes it from here, so the switch is one function.
 */
export function merchantOf(req: Request): string {
  const merchant = req.get('x-merchant-id');
  if (!merchant || !/^[A-Za-z0-9_-]{1,64}$/.test(merchant)) {
    throw new ApiError(401, 'authentication_error', 'merchant_required', 'Identify the merchant with the X-Merchant-Id header', 'X-Merchant-Id');
  }
  return merchant;
}

export function paymentRoutes(payments: PaymentService): Router {
  const router = Router();

  router.post('/v1/payments', async (req, res) => {
    const merchantId = merchantOf(req);
    const key = parseInput(idempotencyKeyHeader, req.get('idempotency-key'), 'header', 'Idempotency-Key');
    const body = parseInput(createPaymentBody, req.body, 'body');
    const { status, payment } = await payments.create(merchantId, key, body);
    res.status(status).json(payment);
  });

  router.get('/v1/payments', async (req, res) => {
    const query = parseInput(listQuery, req.query, 'query');
    res.json(await payments.list(merchantOf(req), query));
  });

  router.get('/v1/payments/:id', async (req, res) => {
    const merchantId = merchantOf(req);
    res.json(await payments.get(merchantId, parseInput(paymentIdParam, req.params.id, 'path', 'id')));
  });

  router.post('/v1/payments/:id/capture', async (req, res) => {
    const merchantId = merchantOf(req);
    const id = parseInput(paymentIdParam, req.params.id, 'path', 'id');
    const body = parseInput(captureBody, req.body ?? {}, 'body');
    res.json(await payments.capture(merchantId, id, body.amount));
  });

  router.post('/v1/payments/:id/cancel', async (req, res) => {
    const merchantId = merchantOf(req);
    const id = parseInput(paymentIdParam, req.params.id, 'path', 'id');
    const body = parseInput(cancelBody, req.body ?? {}, 'body');
    res.json(await payments.cancel(merchantId, id, body.reason));
  });

  router.post('/v1/payments/:id/refunds', async (req, res) => {
    const merchantId = merchantOf(req);
    const id = parseInput(paymentIdParam, req.params.id, 'path', 'id');
    const body = parseInput(refundBody, req.body ?? {}, 'body');
    const key = req.get('idempotency-key');
    const idempotencyKey = key === undefined ? undefined : parseInput(idempotencyKeyHeader, key, 'header', 'Idempotency-Key');
    const refund = await payments.refund(merchantId, id, { ...body, ...(idempotencyKey ? { idempotencyKey } : {}) });
    res.status(201).json(refund);
  });

  // Operations only (the `ops` scope arrives with authentication); the operator is recorded.
  router.post('/v1/payments/:id/review', async (req, res) => {
    const id = parseInput(paymentIdParam, req.params.id, 'path', 'id');
    const body = parseInput(reviewBody, req.body, 'body');
    const operator = req.get('x-operator-id');
    if (!operator || !/^[A-Za-z0-9_.@-]{1,64}$/.test(operator)) {
      throw new ApiError(403, 'authentication_error', 'operator_required', 'Reviews are decided by operations: identify with X-Operator-Id', 'X-Operator-Id');
    }
    res.json(await payments.review(id, body.decision, `operator:${operator}`));
  });

  return router;
}
