import type { Db } from '../../storage/db';
import { ApiError } from '../errors';
import type { PaymentService } from '../payments/payment-service';
import { listObject, refundObject, type PaymentIntentRow } from './objects';
import type { PaymentIntents } from './payment-intents';
import type { CreateRefundParams } from './schemas';
import { StripeError, toStripeError } from './stripe-errors';

interface RefundRow {
  id: string;
  merchant_id: string;
  payment_intent: string;
  reason: string | null;
  metadata: string;
  created_at: number | string;
}

/**
 * Refunds of payment intents (docs/stripe-compat.md): a refund of the intent's payment, with the
 * gateway's rules (one at a time, at most what is left, `pending` until the acquirer's answer is
 * known). The refund itself lives in the payment; this keeps which intent it belongs to.
 */
export class Refunds {
  constructor(
    private readonly db: Db,
    private readonly payments: PaymentService,
    private readonly intents: PaymentIntents,
  ) {}

  async create(merchantId: string, params: CreateRefundParams, idempotencyKey: string | undefined) {
    const intent = await this.intents.row(merchantId, params.payment_intent, 'payment_intent');
    if (!intent.payment_id) {
      throw new StripeError(400, 'invalid_request_error', 'charge_not_refundable', `PaymentIntent ${intent.id} has no successful charge to refund.`, { param: 'payment_intent' });
    }
    let created;
    try {
      created = await this.payments.refund(merchantId, intent.payment_id, {
        ...(params.amount !== undefined ? { amount: params.amount } : {}),
        ...(params.reason ? { reason: params.reason } : {}),
        ...(idempotencyKey ? { idempotencyKey } : {}),
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'payment_not_refundable') {
        throw new StripeError(400, 'invalid_request_error', 'charge_not_refundable', `PaymentIntent ${intent.id} has no successful charge to refund.`, { param: 'payment_intent' });
      }
      throw err instanceof ApiError ? toStripeError(err) : err;
    }
    const extras = { reason: params.reason ?? null, metadata: params.metadata ?? {} };
    await this.db.execute(
      'INSERT INTO stripe_refunds (id, merchant_id, payment_intent, reason, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING',
      [created.refund.id, merchantId, intent.id, extras.reason, JSON.stringify(extras.metadata), Date.now()],
    );
    return refundObject(created.refund, this.intentRef(intent), extras);
  }

  async get(merchantId: string, id: string) {
    const [row] = await this.db.query<RefundRow>('SELECT * FROM stripe_refunds WHERE id = $1', [id]);
    if (!row || row.merchant_id !== merchantId) throw new StripeError(404, 'invalid_request_error', 'resource_missing', `No such refund: '${id}'`, { param: 'id' });
    const intent = await this.intents.row(merchantId, row.payment_intent);
    const refund = (await this.refundsOf(intent)).find((r) => r.id === id);
    if (!refund) throw new StripeError(404, 'invalid_request_error', 'resource_missing', `No such refund: '${id}'`, { param: 'id' });
    return refundObject(refund, this.intentRef(intent), extrasOf(row));
  }

  /** Newest first. With `payment_intent`, every refund of its payment (made here or on /v1/payments). */
  async list(merchantId: string, params: { limit: number; starting_after?: string; ending_before?: string; payment_intent?: string }) {
    const url = '/v1/refunds';
    let all: ReturnType<typeof refundObject>[];
    if (params.payment_intent) {
      const intent = await this.intents.row(merchantId, params.payment_intent, 'payment_intent');
      const rows = await this.db.query<RefundRow>('SELECT * FROM stripe_refunds WHERE payment_intent = $1', [intent.id]);
      const extras = new Map(rows.map((r) => [r.id, extrasOf(r)]));
      all = (await this.refundsOf(intent))
        .filter((r) => /^re_[A-Za-z0-9]{24}$/.test(r.id))
        .map((r) => refundObject(r, this.intentRef(intent), extras.get(r.id) ?? { reason: null, metadata: {} }));
    } else {
      const rows = await this.db.query<RefundRow>('SELECT * FROM stripe_refunds WHERE merchant_id = $1', [merchantId]);
      const intents = new Map<string, PaymentIntentRow>();
      all = [];
      for (const row of rows) {
        const intent = intents.get(row.payment_intent) ?? (await this.intents.row(merchantId, row.payment_intent));
        intents.set(intent.id, intent);
        const refund = (await this.refundsOf(intent)).find((r) => r.id === row.id);
        if (refund) all.push(refundObject(refund, this.intentRef(intent), extrasOf(row)));
      }
    }
    all.sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
    let start = 0;
    let end = all.length;
    if (params.starting_after) start = all.findIndex((r) => r.id === params.starting_after) + 1;
    if (params.ending_before) end = Math.max(0, all.findIndex((r) => r.id === params.ending_before));
    const window = params.ending_before ? all.slice(Math.max(0, end - params.limit), end) : all.slice(start, start + params.limit);
    const hasMore = params.ending_before ? end - params.limit > 0 : start + params.limit < all.length;
    return listObject(url, window, hasMore);
  }

  private async refundsOf(intent: PaymentIntentRow) {
    if (!intent.payment_id) return [];
    const payment = await this.intents.paymentOf(intent);
    return payment && 'refunds' in payment ? payment.refunds : [];
  }

  private intentRef(intent: PaymentIntentRow) {
    return { id: intent.id, currency: intent.currency, paymentId: intent.payment_id! };
  }
}

function extrasOf(row: RefundRow) {
  return { reason: row.reason, metadata: JSON.parse(row.metadata) as Record<string, string> };
}
