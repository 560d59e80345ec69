import type { AuditLog } from '../audit/audit-log';
import type { Db } from '../storage/db';
import type { ValidatedCard } from './card-validation';
import { hpkeSeal } from './crypto/hpke';
import { newReference } from './references';
import { HPKE_CVV_KEY_ID, HPKE_INTAKE_KEY_ID, INTAKE_INFO, cvvAad, cvvInfo, intakeAad } from './sealed-formats';
import { VaultPublicKeys } from './vault-public-keys';

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

const EMPTY = Buffer.alloc(0);

/**
 * The API's side of the vault: it seals a validated card the moment the request is accepted, with
 * HPKE to the vault's public keys (DESIGN.md §3a): the PAN and expiry to the vault's intake key,
 * the CVV to the current short-lived epoch key of every live vault worker. It holds public keys
 * only — no key provider at all — so the API process cannot open what it sealed.
 */
export class CardIntake {
  private readonly now: () => number;
  private readonly publicKeys: VaultPublicKeys;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly options: IntakeOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.publicKeys = new VaultPublicKeys(db, this.now);
  }

  /** Reads the vault's intake public key ahead of the first seal (it is then kept: it never changes). */
  async prefetchIntakeKey(): Promise<void> {
    await this.publicKeys.intake();
  }

  async seal(card: ValidatedCard, context: { actor: string; merchantId?: string; paymentId?: string }): Promise<SealedCard> {
    const intakeRef = newReference('int');
    const cvvRef = newReference('cvv');
    const [intakeKey, epochs] = await Promise.all([this.publicKeys.intake(), this.publicKeys.cvvEpochs()]);
    const pan = Buffer.from(JSON.stringify({ pan: card.pan, expMonth: card.expMonth, expYear: card.expYear }));
    const cvc = Buffer.from(card.cvc);
    let intake, cvvs;
    try {
      [intake, cvvs] = await Promise.all([
        hpkeSeal(intakeKey, pan, INTAKE_INFO, intakeAad(intakeRef)),
        Promise.all(epochs.map(async (epoch) => ({ epochId: epoch.id, ...(await hpkeSeal(epoch.publicKey, cvc, cvvInfo(epoch.id), cvvAad(cvvRef))) }))),
      ]);
    } finally {
      pan.fill(0);
      cvc.fill(0);
    }
    const createdAt = this.now();
    const expiresAt = createdAt + this.options.ttlMs;
    await this.db.transaction(async (tx) => {
      // The encapsulated key goes where envelope rows keep their wrapped data key; the marker says which.
      await tx.execute(
        `INSERT INTO card_intakes (id, created_at, expires_at, key_id, key_version, wrapped_key, ciphertext)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [intakeRef, createdAt, expiresAt, HPKE_INTAKE_KEY_ID, 1, intake.enc, intake.ciphertext],
      );
      await tx.execute(
        `INSERT INTO cvv_records (id, created_at, expires_at, key_id, key_version, wrapped_key, ciphertext)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [cvvRef, createdAt, expiresAt, HPKE_CVV_KEY_ID, 1, EMPTY, EMPTY],
      );
      for (const sealed of cvvs) {
        await tx.execute('INSERT INTO cvv_seals (cvv_id, epoch_id, enc, ciphertext) VALUES ($1, $2, $3, $4)', [cvvRef, sealed.epochId, sealed.enc, sealed.ciphertext]);
      }
      await this.audit.append(
        {
          actor: context.actor,
          action: 'card.seal',
          merchantId: context.merchantId,
          paymentId: context.paymentId,
          subject: intakeRef,
          outcome: 'success',
          details: { cvvRef, cvvEpochs: cvvs.map((s) => s.epochId).join(',') },
        },
        tx,
      );
    });
    return { intakeRef, cvvRef };
  }

  /** Destroys a sealed card no payment will use (the workflow could not be started). Needs no key. */
  async discard(sealed: SealedCard): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.execute('DELETE FROM card_intakes WHERE id = $1', [sealed.intakeRef]);
      await tx.execute('DELETE FROM cvv_seals WHERE cvv_id = $1', [sealed.cvvRef]);
      await tx.execute('DELETE FROM cvv_records WHERE id = $1', [sealed.cvvRef]);
      await this.audit.append({ actor: 'api', action: 'cvv.purge', subject: sealed.cvvRef, outcome: 'success', details: { reason: 'payment_not_started' } }, tx);
    });
  }
}
