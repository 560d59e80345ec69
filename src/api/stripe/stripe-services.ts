import type { Client } from '@temporalio/client';
import type { Logger } from '../../logging/logger';
import type { PaymentRecords } from '../../records/payment-records';
import type { Db } from '../../storage/db';
import type { CardIntake } from '../../vault/card-intake';
import type { PaymentService } from '../payments/payment-service';
import type { StripeServices } from '../routes/stripe';
import { StripeIdempotency } from './idempotency';
import { PaymentIntents } from './payment-intents';
import { PaymentMethods } from './payment-methods';
import { Refunds } from './refunds';
import { StripeEvents } from './events';
import { dispatchEvents } from '../../events/dispatch';

/** The Stripe-compatible surface's services, over the gateway's own (docs/stripe-compat.md). */
export function stripeServices(deps: { db: Db; client: Client; intake: CardIntake; payments: PaymentService; records: PaymentRecords; cvvTtlMs: number; logger: Logger }): StripeServices {
  const methods = new PaymentMethods(deps.db, deps.client, deps.intake, deps.cvvTtlMs);
  const intents = new PaymentIntents(deps.db, deps.payments, methods, deps.records, (stream) => dispatchEvents(deps.db, deps.client, stream));
  return {
    methods,
    intents,
    refunds: new Refunds(deps.db, deps.payments, intents),
    events: new StripeEvents(deps.db, process.env.NODE_ENV === 'production'),
    idempotency: new StripeIdempotency(deps.db),
    logger: deps.logger,
  };
}
