import { createHash } from 'node:crypto';
import type { Db } from '../../storage/db';
import type { PaymentRecords } from '../../records/payment-records';
import { ApiError } from '../errors';
import type { PaymentService } from '../payments/payment-service';
import { paymentView } from '../payments/payment-view';
import {
  intentStatus,
  lastPaymentError,
  listObject,
  paymentIntentObject,
  type IntentPayment,
  type PaymentIntentObject,
  type PaymentIntentRow,
} from './objects';
import type { PaymentMethods } from './payment-methods';
import type { CreatePaymentIntentParams, ListPaymentIntentsParams, UpdatePaymentIntentParams } from './schemas';
import { StripeError, toStripeError } from './stripe-errors';
import { stripeId } from './stripe-ids';
import { appendEvents, eventIdOf } from '../../events/payment-events';

/**
 * PaymentIntents (docs/stripe-compat.md): each confirmation of an intent is one gateway payment
 * (one workflow: vault, fraud check, authorization, capture, settlement, audit, as for
 * /v1/payments), and the intent is a view of its latest one. Before its first confirmation an
 * intent is only a row here.
 */
export class PaymentIntents {
  constructor(
    private readonly db: Db,
    private readonly payments: PaymentService,
    private readonly methods: PaymentMethods,
    /** Lists read the payment records, not each workflow. */
    private readonly records: PaymentRecords,
    /** Hands an intent's new events to webhook delivery (src/events/dispatch.ts). */
    private readonly dispatch: (stream: string) => Promise<unknown> = async () => undefined,
  ) {}

  async create(merchantId: string, params: CreatePaymentIntentParams): Promise<PaymentIntentObject> {
    if (params.payment_method) await this.methods.row(merchantId, params.payment_method, 'payment_method');
    const row: PaymentIntentRow = {
      id: stripeId('pi'),
      merchant_id: merchantId,
      amount: params.amount,
      currency: params.currency,
      capture_method: params.capture_method ?? 'automatic',
      payment_method: params.payment_method ?? null,
      description: params.description ?? null,
      metadata: JSON.stringify(params.metadata ?? {}),
      payment_id: null,
      attempts: 0,
      canceled_at: null,
      cancellation_reason: null,
      created_at: Date.now(),
    };
    // The intent and its first event, together; the payments of its confirmations emit the rest.
    await this.db.transaction(async (tx) => {
      await tx.execute(
        `INSERT INTO payment_intents (id, merchant_id, amount, currency, capture_method, payment_method, description, metadata, payment_id, attempts, canceled_at, cancellation_reason, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, 0, NULL, NULL, $9)`,
        [row.id, merchantId, row.amount, row.currency, row.capture_method, row.payment_method, row.description, row.metadata, row.created_at],
      );
      await appendEvents(tx, [{ id: eventIdOf(row.id, 'created'), merchantId, stream: row.id, type: 'payment_intent.created', object: paymentIntentObject(row, undefined), at: Number(row.created_at) }]);
    });
    // Delivery is the records worker's job too: a failure here is caught up by the next dispatch of this stream.
    await this.dispatch(row.id).catch(() => undefined);
    if (params.confirm) return this.confirm(merchantId, row.id, {});
    return paymentIntentObject(row, undefined);
  }

  async get(merchantId: string, id: string): Promise<PaymentIntentObject> {
    const row = await this.row(merchantId, id);
    return paymentIntentObject(row, await this.paymentOf(row));
  }

  /** Metadata and description at any time; amount and payment method only before a payment runs. */
  async update(merchantId: string, id: string, params: UpdatePaymentIntentParams): Promise<PaymentIntentObject> {
    const row = await this.row(merchantId, id);
    const payment = await this.paymentOf(row);
    const status = intentStatus(row, payment);
    if ((params.amount !== undefined || params.payment_method !== undefined) && status !== 'requires_payment_method' && status !== 'requires_confirmation') {
      throw unexpectedState(`You cannot update the amount or payment method of this PaymentIntent because it has a status of ${status}.`, paymentIntentObject(row, payment));
    }
    if (params.payment_method) await this.methods.row(merchantId, params.payment_method, 'payment_method');
    const metadata = params.metadata === undefined ? undefined : mergeMetadata(JSON.parse(row.metadata), params.metadata);
    await this.db.execute(
      'UPDATE payment_intents SET amount = $1, payment_method = $2, description = $3, metadata = $4 WHERE id = $5',
      [params.amount ?? row.amount, params.payment_method ?? row.payment_method, params.description ?? row.description, metadata ? JSON.stringify(metadata) : row.metadata, id],
    );
    return this.get(merchantId, id);
  }

  /**
   * Starts the intent's next payment with its payment method. A payment declined or failed leaves
   * the intent `requires_payment_method` and answers 402 with the intent in the error, as Stripe does.
   */
  async confirm(merchantId: string, id: string, params: { payment_method?: string }): Promise<PaymentIntentObject> {
    const row = await this.row(merchantId, id);
    const current = await this.paymentOf(row);
    const status = intentStatus(row, current);
    if (status !== 'requires_payment_method' && status !== 'requires_confirmation') {
      throw unexpectedState(`You cannot confirm this PaymentIntent because it has a status of ${status}.`, paymentIntentObject(row, current));
    }
    const methodId = params.payment_method ?? row.payment_method;
    if (!methodId) {
      throw new StripeError(400, 'invalid_request_error', 'parameter_missing', 'You cannot confirm this PaymentIntent because it is missing a payment method. Specify payment_method.', { param: 'payment_method' });
    }
    const method = await this.methods.row(merchantId, methodId, 'payment_method');
    const attempt = row.attempts + 1;
    const paymentId = intentPaymentId(merchantId, row.id, attempt);
    const cvvRef = await this.methods.claimCvv(method);
    let created;
    try {
      created = await this.payments.createFromStoredCard(merchantId, paymentId, {
        amount: Number(row.amount),
        currency: row.currency,
        captureMethod: row.capture_method,
        ...(row.description !== null ? { description: row.description } : {}),
        metadata: { ...JSON.parse(row.metadata), payment_intent: row.id, payment_method: methodId },
        card: {
          token: method.token,
          bin: method.bin,
          brand: method.brand,
          last4: method.last4,
          fingerprint: method.fingerprint,
          ...(method.country ? { issuingCountry: method.country } : {}),
          expMonth: Number(method.exp_month),
          expYear: Number(method.exp_year),
        },
        ...(cvvRef ? { cvvRef } : {}),
      });
    } catch (err) {
      throw err instanceof ApiError ? toStripeError(err) : err;
    }
    // Two confirmations at once compute the same attempt, hence the same payment: either may record it.
    await this.db.execute('UPDATE payment_intents SET attempts = $1, payment_id = $2, payment_method = $3 WHERE id = $4 AND attempts < $1', [attempt, paymentId, methodId, id]);
    const updated = await this.row(merchantId, id);
    const intent = paymentIntentObject(updated, created.payment);
    const error = intent.status === 'requires_payment_method' ? lastPaymentError(created.payment) : null;
    if (error) {
      throw new StripeError(402, 'card_error', error.code, error.message, {
        ...('decline_code' in error ? { decline_code: error.decline_code } : {}),
        payment_intent: intent,
        payment_method: await this.methods.get(merchantId, methodId),
      });
    }
    return intent;
  }

  async capture(merchantId: string, id: string, amountToCapture: number | undefined, idempotencyKey: string | undefined): Promise<PaymentIntentObject> {
    const row = await this.row(merchantId, id);
    const paymentId = await this.livePayment(row, 'capture');
    const result = await this.act(() => this.payments.capture(merchantId, paymentId, amountToCapture, idempotencyKey));
    return paymentIntentObject(row, paymentView(result.state));
  }

  async cancel(merchantId: string, id: string, reason: string | undefined, idempotencyKey: string | undefined): Promise<PaymentIntentObject> {
    const row = await this.row(merchantId, id);
    const payment = await this.paymentOf(row);
    const status = intentStatus(row, payment);
    if (status === 'requires_payment_method' || status === 'requires_confirmation') {
      // No payment holds money: the intent alone is canceled, and says so in its event.
      const at = Date.now();
      await this.db.transaction(async (tx) => {
        const changed = await tx.execute('UPDATE payment_intents SET canceled_at = $1, cancellation_reason = $2 WHERE id = $3 AND canceled_at IS NULL', [at, reason ?? null, id]);
        if (changed === 0) return;
        const [canceled] = await tx.query<PaymentIntentRow>('SELECT * FROM payment_intents WHERE id = $1', [id]);
        await appendEvents(tx, [{ id: eventIdOf(id, 'canceled'), merchantId, stream: id, type: 'payment_intent.canceled', object: paymentIntentObject(canceled!, payment), at }]);
      });
      await this.dispatch(id).catch(() => undefined);
      return this.get(merchantId, id);
    }
    if (status !== 'requires_capture' && status !== 'processing') {
      throw unexpectedState(`You cannot cancel this PaymentIntent because it has a status of ${status}.`, paymentIntentObject(row, payment));
    }
    const result = await this.act(() => this.payments.cancel(merchantId, row.payment_id!, reason ?? 'requested_by_customer', idempotencyKey));
    if (result.state.status === 'canceled') {
      await this.db.execute('UPDATE payment_intents SET canceled_at = $1, cancellation_reason = $2 WHERE id = $3 AND canceled_at IS NULL', [Date.now(), reason ?? null, id]);
    }
    return paymentIntentObject(await this.row(merchantId, id), paymentView(result.state));
  }

  /** Newest first; `starting_after` pages on, `ending_before` pages back (Stripe's cursors are object ids). */
  async list(merchantId: string, params: ListPaymentIntentsParams) {
    const where: string[] = ['merchant_id = $1'];
    const args: unknown[] = [merchantId];
    const bound = (op: string, value: number) => {
      args.push(value);
      where.push(`created_at ${op} $${args.length}`);
    };
    const created = typeof params.created === 'number' ? { gte: params.created, lt: params.created + 1 } : params.created;
    if (created?.gt !== undefined) bound('>=', (created.gt + 1) * 1000);
    if (created?.gte !== undefined) bound('>=', created.gte * 1000);
    if (created?.lt !== undefined) bound('<', created.lt * 1000);
    if (created?.lte !== undefined) bound('<', (created.lte + 1) * 1000);
    if (params.starting_after && params.ending_before) {
      throw new StripeError(400, 'invalid_request_error', 'parameter_invalid', 'You may only specify one of these parameters: ending_before, starting_after.', { param: 'starting_after' });
    }
    const cursorId = params.starting_after ?? params.ending_before;
    let descending = true;
    if (cursorId) {
      const cursor = await this.row(merchantId, cursorId, params.starting_after ? 'starting_after' : 'ending_before');
      args.push(cursor.created_at, cursor.id);
      const [c, i] = [`$${args.length - 1}`, `$${args.length}`];
      if (params.starting_after) where.push(`(created_at < ${c} OR (created_at = ${c} AND id < ${i}))`);
      else {
        where.push(`(created_at > ${c} OR (created_at = ${c} AND id > ${i}))`);
        descending = false; // the page just before the cursor: nearest first, then turned round
      }
    }
    const order = descending ? 'created_at DESC, id DESC' : 'created_at ASC, id ASC';
    const rows = await this.db.query<PaymentIntentRow>(`SELECT * FROM payment_intents WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${params.limit + 1}`, args);
    const hasMore = rows.length > params.limit;
    const page = rows.slice(0, params.limit);
    if (!descending) page.reverse();
    const data = await Promise.all(page.map(async (row) => paymentIntentObject(row, await this.recordedPayment(row))));
    return listObject('/v1/payment_intents', data, hasMore);
  }

  /** The merchant's intent; another merchant's is a 404, exactly as one that does not exist. */
  async row(merchantId: string, id: string, param = 'id'): Promise<PaymentIntentRow> {
    const [row] = await this.db.query<PaymentIntentRow>('SELECT * FROM payment_intents WHERE id = $1', [id]);
    if (!row || row.merchant_id !== merchantId) throw new StripeError(404, 'invalid_request_error', 'resource_missing', `No such payment_intent: '${id}'`, { param });
    return row;
  }

  /** The intent's latest payment, read as GET /v1/payments reads it (the workflow while it runs). */
  async paymentOf(row: PaymentIntentRow): Promise<IntentPayment> {
    if (!row.payment_id) return undefined;
    try {
      return paymentView(await this.payments.getState(row.merchant_id, row.payment_id));
    } catch (err) {
      // Started (the row says so) but not readable yet: it is processing.
      if (err instanceof ApiError && err.code === 'payment_not_found') return { id: row.payment_id, object: 'payment', status: 'processing' };
      throw err instanceof ApiError ? toStripeError(err) : err;
    }
  }

  /** For lists: the payment's record (at most one write behind its workflow). */
  private async recordedPayment(row: PaymentIntentRow): Promise<IntentPayment> {
    if (!row.payment_id) return undefined;
    const record = await this.records.get(row.payment_id);
    return record ? paymentView(record.state) : { id: row.payment_id, object: 'payment', status: 'processing' };
  }

  private async livePayment(row: PaymentIntentRow, action: string): Promise<string> {
    const payment = await this.paymentOf(row);
    const status = intentStatus(row, payment);
    if (!row.payment_id || status !== 'requires_capture') {
      throw unexpectedState(`This PaymentIntent could not be ${action}d because it has a status of ${status}. Only a PaymentIntent with one of the following statuses may be ${action}d: requires_capture.`, paymentIntentObject(row, payment));
    }
    return row.payment_id;
  }

  private async act<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw err instanceof ApiError ? toStripeError(err) : err;
    }
  }
}

/**
 * The gateway payment of an intent's n-th confirmation. Derived (the same confirmation retried
 * finds the same payment), in a namespace no Idempotency-Key of /v1/payments can reach (a NUL).
 */
export function intentPaymentId(merchantId: string, intentId: string, attempt: number): string {
  return `pay_${createHash('sha256').update(`${merchantId}\0payment_intent\0${intentId}\0${attempt}`).digest('hex').slice(0, 24)}`;
}

function unexpectedState(message: string, intent: PaymentIntentObject): StripeError {
  return new StripeError(400, 'invalid_request_error', 'payment_intent_unexpected_state', message, { payment_intent: intent });
}

/** Stripe's metadata update: keys merge, an empty value removes its key. */
function mergeMetadata(current: Record<string, string>, update: Record<string, string>): Record<string, string> {
  if (Object.keys(update).length === 0) return {};
  const merged = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '') delete merged[k];
    else merged[k] = v;
  }
  return merged;
}
