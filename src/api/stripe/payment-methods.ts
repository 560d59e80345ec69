import type { Client } from '@temporalio/client';
import type { Db } from '../../storage/db';
import { TASK_QUEUES } from '../../temporal/task-queues';
import type { CardIntake } from '../../vault/card-intake';
import { CardValidationError, validateCard } from '../../vault/card-validation';
import type { paymentMethodWorkflow } from '../../workflows/payment-method';
import { withinMs } from '../payments/payment-service';
import { paymentMethodObject, type PaymentMethodRow } from './objects';
import { StripeError } from './stripe-errors';
import { stripeId } from './stripe-ids';

/** How long POST /v1/payment_methods waits for the vault's token before answering 503. */
const TOKENIZE_WAIT_MS = 10_000;

/**
 * Payment methods (`pm_…`): a card tokenized by the vault (the API seals it, the vault worker
 * reads it, in paymentMethodWorkflow) and kept for payments. Its CVC stays sealed, with the
 * intake's TTL, for the method's first payment only; later payments are stored-credential
 * authorizations without a CVC (DESIGN.md §3: a CVV is never kept past its one authorization).
 */
export class PaymentMethods {
  constructor(
    private readonly db: Db,
    private readonly client: Client,
    private readonly intake: CardIntake,
    /** The intake's CVV time-to-live: a CVC older than half of it is left to the sweeper, not sent. */
    private readonly cvvTtlMs: number,
  ) {}

  async create(merchantId: string, params: { card: { number: string; exp_month: number; exp_year: number; cvc: string }; metadata?: Record<string, string> }) {
    let card;
    try {
      card = validateCard(params.card);
    } catch (err) {
      if (err instanceof CardValidationError) throw new StripeError(402, 'card_error', stripeCardCode(err.code), err.message, { param: `card[${err.param.replace(/^card\./, '')}]` });
      throw err;
    }
    const id = stripeId('pm');
    const sealed = await this.intake.seal(card, { actor: `merchant:${merchantId}`, merchantId, paymentId: id });
    let tokenized;
    try {
      tokenized = await withinMs(
        this.client.workflow.execute<typeof paymentMethodWorkflow>('paymentMethodWorkflow', {
          workflowId: `payment-method-${id}`,
          taskQueue: TASK_QUEUES.payments,
          args: [{ intakeRef: sealed.intakeRef, merchantId, paymentMethodId: id }],
        }),
        TOKENIZE_WAIT_MS,
      );
    } catch {
      tokenized = undefined;
    }
    if (!tokenized) {
      await this.intake.discard(sealed).catch(() => undefined);
      throw new StripeError(503, 'api_error', 'vault_unavailable', 'The card could not be tokenized in time; retry the request');
    }
    const row: PaymentMethodRow = {
      id,
      merchant_id: merchantId,
      token: tokenized.token,
      bin: tokenized.bin,
      brand: tokenized.brand,
      last4: tokenized.last4,
      // The expiry this merchant sent: the vault's card row is shared by every merchant with the card.
      exp_month: card.expMonth,
      exp_year: card.expYear,
      fingerprint: tokenized.fingerprint,
      country: tokenized.issuingCountry ?? null,
      cvv_ref: sealed.cvvRef,
      metadata: JSON.stringify(params.metadata ?? {}),
      created_at: Date.now(),
    };
    await this.db.execute(
      `INSERT INTO payment_methods (id, merchant_id, token, bin, brand, last4, exp_month, exp_year, fingerprint, country, cvv_ref, metadata, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [row.id, row.merchant_id, row.token, row.bin, row.brand, row.last4, row.exp_month, row.exp_year, row.fingerprint, row.country, row.cvv_ref, row.metadata, row.created_at],
    );
    return paymentMethodObject(row);
  }

  /** The merchant's payment method; another merchant's is a 404, exactly as one that does not exist. */
  async row(merchantId: string, id: string, param = 'id'): Promise<PaymentMethodRow> {
    const [row] = await this.db.query<PaymentMethodRow>('SELECT * FROM payment_methods WHERE id = $1', [id]);
    if (!row || row.merchant_id !== merchantId) throw new StripeError(404, 'invalid_request_error', 'resource_missing', `No such PaymentMethod: '${id}'`, { param });
    return row;
  }

  async get(merchantId: string, id: string) {
    return paymentMethodObject(await this.row(merchantId, id));
  }

  /**
   * The method's sealed CVC for the one payment that takes it (atomically: two confirmations at
   * once cannot both send it), while it is fresh; undefined after that (a stored credential).
   */
  async claimCvv(row: PaymentMethodRow): Promise<string | undefined> {
    if (!row.cvv_ref || Date.now() - Number(row.created_at) > this.cvvTtlMs / 2) return undefined;
    const claimed = await this.db.execute('UPDATE payment_methods SET cvv_ref = NULL WHERE id = $1 AND cvv_ref = $2', [row.id, row.cvv_ref]);
    return claimed === 1 ? row.cvv_ref : undefined;
  }
}

/** Stripe's codes for a card refused at the edge (the gateway's are Stripe's already, but one). */
function stripeCardCode(code: string): string {
  return code === 'invalid_number_length' ? 'invalid_number' : code;
}
