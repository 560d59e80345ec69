import type { AuditLog } from '../audit/audit-log';
import type { Db } from '../storage/db';
import type { ValidatedCard } from './card-validation';
import { encryptRecord } from './crypto/envelope';
import type { DataKeyIssuer } from './keys/key-provider';
import { newReference } from './references';

/** What the API keeps of a card once it is sealed: two opaque references, nothing else. */
export interface SealedCard {
  /** The PAN and expiry, until the vault tokenizes them. */
  intakeRef: string;
  /** The CVV, in its own short-lived record, until authorization is over. */
  cvvRef: string;
}

export interface IntakeOptions {
  /** How long an intake and its CVV live if never used (the TTL backstop). */
  ttlMs: number;
  now?: () => number;
}

/**
 * The API's side of the vault: it seals a validated card the moment the request is accepted.
 * It holds only a data key issuer, never an unwrapper: the API can seal but cannot read back
 * (with AWS KMS its role has `kms:GenerateDataKey` and no `kms:Decrypt`).
 */
export class CardIntake {
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    private readonly keys: DataKeyIssuer,
    private readonly audit: AuditLog,
    private readonly options: IntakeOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async seal(card: ValidatedCard, context: { actor: string; merchantId?: string; paymentId?: string }): Promise<SealedCard> {
    const intakeRef = newReference('int');
    const cvvRef = newReference('cvv');
    const pan = Buffer.from(JSON.stringify({ pan: card.pan, expMonth: card.expMonth, expYear: card.expYear }));
    const cvc = Buffer.from(card.cvc);
    const [intake, cvv] = await Promise.all([
      encryptRecord(this.keys, 'card-intake', `card_intakes|${intakeRef}`, pan),
      encryptRecord(this.keys, 'card-cvv', `cvv_records|${cvvRef}`, cvc),
    ]);
    pan.fill(0);
    cvc.fill(0);
    const createdAt = this.now();
    const expiresAt = createdAt + this.options.ttlMs;
    await this.db.transaction(async (tx) => {
      await tx.execute(
        `INSERT INTO card_intakes (id, created_at, expires_at, key_id, key_version, wrapped_key, ciphertext)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [intakeRef, createdAt, expiresAt, intake.key_id, intake.key_version, intake.wrapped_key, intake.ciphertext],
      );
      await tx.execute(
        `INSERT INTO cvv_records (id, created_at, expires_at, key_id, key_version, wrapped_key, ciphertext)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [cvvRef, createdAt, expiresAt, cvv.key_id, cvv.key_version, cvv.wrapped_key, cvv.ciphertext],
      );
      await this.audit.append(
        { actor: context.actor, action: 'card.seal', merchantId: context.merchantId, paymentId: context.paymentId, subject: intakeRef, outcome: 'success', details: { cvvRef } },
        tx,
      );
    });
    return { intakeRef, cvvRef };
  }

  /** Destroys a sealed card no payment will use (the workflow could not be started). Needs no key. */
  async discard(sealed: SealedCard): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.execute('DELETE FROM card_intakes WHERE id = $1', [sealed.intakeRef]);
      await tx.execute('DELETE FROM cvv_records WHERE id = $1', [sealed.cvvRef]);
      await this.audit.append({ actor: 'api', action: 'cvv.purge', subject: sealed.cvvRef, outcome: 'success', details: { reason: 'payment_not_started' } }, tx);
    });
  }
}
