import { createHmac } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log';
import type { Db } from '../storage/db';
import { lookupIssuingCountry } from './bin-table';
import { detectBrand, type CardBrand } from './card-validation';
import { decryptRecord, encryptRecord, type EnvelopeColumns } from './crypto/envelope';
import { hpkeOpen, type CryptoKey } from './crypto/hpke';
import { CvvEpochs, type CvvEpochOptions } from './cvv-epochs';
import { loadIntakeKey } from './intake-key';
import type { KeyProvider } from './keys/key-provider';
import { newReference } from './references';
import { loadVaultSecret } from './vault-secrets';
import { HPKE_CVV_KEY_ID, HPKE_INTAKE_KEY_ID, INTAKE_INFO, cvvAad, intakeAad } from './sealed-formats';

/** A card as the rest of the gateway may know it: public metadata and opaque handles. */
export interface TokenizedCard {
  token: string;
  /**
   * The card's fingerprint at this merchant (DESIGN.md §3a): the same card gives the same
   * fingerprint at one merchant and unrelated ones at two, so a merchant cannot link its
   * customers' cards to another merchant's. See `merchantFingerprint`.
   */
  fingerprint: string;
  brand: CardBrand;
  bin: string;
  last4: string;
  expMonth: number;
  expYear: number;
  issuingCountry?: string;
}

/** Card data for one authorization. Exists only inside the vault worker, for one call. */
export interface CardForAuthorization {
  pan: string;
  expMonth: number;
  expYear: number;
  /** Absent for a stored credential (no CVV kept). */
  cvc?: string;
}

/** The vault cannot go on with this reference: expired, purged or never existed. Retrying will not help. */
export class VaultReferenceError extends Error {
  constructor(
    readonly code: 'intake_not_found' | 'card_not_found' | 'cvv_not_found' | 'cvv_unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'VaultReferenceError';
  }
}

/**
 * The CVV is sealed to epochs held by another vault worker that is alive: this worker cannot open
 * it, that one can. Retryable: Temporal's next attempt may land there (docs/vault.md).
 */
export class CvvHeldElsewhereError extends Error {
  constructor(cvvRef: string) {
    // The code leads the message, as for cvv_unavailable. "Live" is the other worker's last heartbeat: a worker
    // that was killed looks alive until it runs out (three sweep intervals), and then this becomes cvv_unavailable.
    super(`cvv_held_elsewhere: CVV ${cvvRef} is sealed only to epochs of another vault worker whose heartbeat is recent; retrying`);
    this.name = 'CvvHeldElsewhereError';
  }
}

export interface VaultOptions {
  now?: () => number;
  actor?: string;
  /** CVV epoch keys (./cvv-epochs.ts); defaults: a 5-minute seal window, maintenance every minute. */
  cvvEpochs?: Omit<CvvEpochOptions, 'now'>;
}

export const DEFAULT_CVV_EPOCHS: Omit<CvvEpochOptions, 'now'> = { sealWindowMs: 5 * 60_000, maintenanceIntervalMs: 60_000 };

interface CardRow extends EnvelopeColumns {
  token: string;
  fingerprint: string;
  brand: CardBrand;
  bin: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  issuing_country: string | null;
}

const FINGERPRINT_SECRET = 'fingerprint';

/**
 * The card vault's worker side (DESIGN.md §3, invariants 3–5): the only code that decrypts card
 * data. It tokenizes intakes, hands PAN and CVV to an authorization, destroys CVVs, and re-wraps
 * data keys when the master key rotates.
 */
export class Vault {
  private readonly now: () => number;
  private readonly actor: string;
  /** This worker's CVV epoch keys: in memory only (./cvv-epochs.ts). */
  readonly cvvEpochs: CvvEpochs;

  private constructor(
    private readonly db: Db,
    private readonly keys: KeyProvider,
    private readonly audit: AuditLog,
    private readonly fingerprintKey: Buffer,
    /** Opens what the API sealed to the vault's intake public key. */
    private readonly intakeKey: CryptoKey,
    options: VaultOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.actor = options.actor ?? 'worker:vault';
    this.cvvEpochs = new CvvEpochs(db, { ...(options.cvvEpochs ?? DEFAULT_CVV_EPOCHS), now: this.now, audit: { log: audit, actor: this.actor } });
  }

  /**
   * Opens the vault and proves the master key fits the database before anything else happens:
   * unwrapping the fingerprint secret fails here, at start-up, if the key is wrong.
   */
  static async open(db: Db, keys: KeyProvider, audit: AuditLog, options: VaultOptions = {}): Promise<Vault> {
    const now = options.now ?? Date.now;
    const fingerprintKey = await loadFingerprintSecret(db, keys, now);
    const vault = new Vault(db, keys, audit, fingerprintKey, await loadIntakeKey(db, keys, now), options);
    // The first epoch is published before the worker polls, so the API can seal CVVs at once.
    await vault.cvvEpochs.maintain();
    return vault;
  }

  async tokenize(intakeRef: string, context: { merchantId: string; paymentId?: string }): Promise<TokenizedCard> {
    return this.db.transaction(async (tx) => {
      const [intake] = await tx.query<EnvelopeColumns & { token: string | null }>(
        'SELECT token, key_id, key_version, wrapped_key, ciphertext FROM card_intakes WHERE id = $1',
        [intakeRef],
      );
      if (!intake) throw new VaultReferenceError('intake_not_found', `Card intake ${intakeRef} does not exist or has expired`);
      if (intake.token) return this.cardByToken(tx, intake.token, context.merchantId); // a retry: the first attempt already tokenized it

      const sealed = JSON.parse((await this.openIntake(intakeRef, intake)).toString()) as {
        pan: string;
        expMonth: number;
        expYear: number;
      };
      // The vault's own card key (the same for every merchant): it finds the card's one token. It is
      // never shown outside the vault; merchants see `merchantFingerprint` of it.
      const fingerprint = `fp_${createHmac('sha256', this.fingerprintKey).update(sealed.pan).digest('base64url').slice(0, 22)}`;
      const now = this.now();
      const [existing] = await tx.query<{ token: string }>('SELECT token FROM cards WHERE fingerprint = $1', [fingerprint]);
      let token: string;
      if (existing) {
        // The same card again: reuse its token, and keep the newest expiry (a reissued card keeps its number).
        token = existing.token;
        await tx.execute('UPDATE cards SET exp_month = $1, exp_year = $2, updated_at = $3 WHERE token = $4', [
          sealed.expMonth,
          sealed.expYear,
          now,
          token,
        ]);
      } else {
        token = newReference('tok');
        const pan = await encryptRecord(this.keys, 'card-pan', `cards|${token}`, Buffer.from(sealed.pan));
        await tx.execute(
          `INSERT INTO cards (token, fingerprint, brand, bin, last4, exp_month, exp_year, issuing_country, created_at, updated_at,
                              key_id, key_version, wrapped_key, ciphertext)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
          [
            token,
            fingerprint,
            detectBrand(sealed.pan)!,
            sealed.pan.slice(0, 6),
            sealed.pan.slice(-4),
            sealed.expMonth,
            sealed.expYear,
            lookupIssuingCountry(sealed.pan) ?? null,
            now,
            now,
            pan.key_id,
            pan.key_version,
            pan.wrapped_key,
            pan.ciphertext,
          ],
        );
      }
      // The intake's copy of the PAN is erased now; only the pointer to the token stays, for retries.
      await tx.execute(
        'UPDATE card_intakes SET token = $1, key_id = NULL, key_version = NULL, wrapped_key = NULL, ciphertext = NULL WHERE id = $2',
        [token, intakeRef],
      );
      await this.audit.append(
        { actor: this.actor, action: 'card.tokenize', ...context, subject: token, outcome: 'success', details: { intakeRef, reused: Boolean(existing) } },
        tx,
      );
      return this.cardByToken(tx, token, context.merchantId);
    });
  }

  /**
   * Decrypts the PAN and CVV for one authorization and passes them to `use`; nothing decrypted
   * leaves this call except what `use` returns (the acquirer's answer). Without a `cvvRef` the card
   * is a stored credential (a payment method used again after its CVV is gone): no CVC is sent.
   */
  async withCardForAuthorization<T>(
    token: string,
    cvvRef: string | undefined,
    expiry: { expMonth: number; expYear: number },
    context: { merchantId?: string; paymentId?: string },
    use: (card: CardForAuthorization) => Promise<T>,
  ): Promise<T> {
    const [card] = await this.db.query<CardRow>('SELECT * FROM cards WHERE token = $1', [token]);
    if (!card) throw new VaultReferenceError('card_not_found', `Card token ${token} does not exist`);
    let sealedCvc: EnvelopeColumns | undefined;
    if (cvvRef !== undefined) {
      [sealedCvc] = await this.db.query<EnvelopeColumns>('SELECT key_id, key_version, wrapped_key, ciphertext FROM cvv_records WHERE id = $1', [cvvRef]);
      if (!sealedCvc) throw new VaultReferenceError('cvv_not_found', `CVV ${cvvRef} was already destroyed (used, or expired)`);
    }
    // The CVV first: if it cannot be opened, nothing is decrypted and nothing is sent.
    const cvc = sealedCvc ? await this.openCvv(cvvRef!, sealedCvc) : undefined;
    const pan = await decryptRecord(this.keys, 'card-pan', `cards|${token}`, card);
    const purpose = cvc ? 'authorization' : 'stored_credential_authorization';
    await this.audit.append({ actor: this.actor, action: 'card.detokenize', ...context, subject: token, outcome: 'success', details: { purpose } });
    try {
      return await use({ pan: pan.toString(), expMonth: expiry.expMonth, expYear: expiry.expYear, ...(cvc ? { cvc: cvc.toString() } : {}) });
    } finally {
      pan.fill(0);
      cvc?.fill(0);
    }
  }

  /**
   * Extends a CVV's time-to-live to `until` (never shortens it): a payment in fraud review may
   * still authorize up to its review deadline, and the TTL backstop must not destroy the CVV
   * before then. The purge after authorization, or the sweep at `until`, still destroys it.
   */
  async retainCvv(cvvRef: string, until: number, context: { merchantId?: string; paymentId?: string } = {}): Promise<{ retained: boolean }> {
    return this.db.transaction(async (tx) => {
      const updated = await tx.execute('UPDATE cvv_records SET expires_at = $1 WHERE id = $2 AND expires_at < $1', [until, cvvRef]);
      const [exists] = await tx.query<{ id: string }>('SELECT id FROM cvv_records WHERE id = $1', [cvvRef]);
      if (!exists) throw new VaultReferenceError('cvv_not_found', `CVV ${cvvRef} was already destroyed (used, or expired)`);
      if (updated > 0) {
        await this.audit.append({ actor: this.actor, action: 'cvv.retain', ...context, subject: cvvRef, outcome: 'success', details: { until: new Date(until).toISOString() } }, tx);
      }
      return { retained: true };
    });
  }

  /**
   * Destroys a CVV: the row goes, and with it the only wrapped copy of its data key, so no copy of
   * the ciphertext anywhere can be decrypted again. Idempotent: purging twice is not an error.
   */
  async purgeCvv(cvvRef: string, context: { merchantId?: string; paymentId?: string } = {}): Promise<{ purged: boolean }> {
    return this.db.transaction(async (tx) => {
      await tx.execute('DELETE FROM cvv_seals WHERE cvv_id = $1', [cvvRef]);
      const deleted = await tx.execute('DELETE FROM cvv_records WHERE id = $1', [cvvRef]);
      if (deleted > 0) await this.audit.append({ actor: this.actor, action: 'cvv.purge', ...context, subject: cvvRef, outcome: 'success' }, tx);
      return { purged: deleted > 0 };
    });
  }

  /** The time-to-live backstop: destroys every CVV and intake past its expiry. */
  async sweepExpired(): Promise<{ cvvs: string[]; intakes: number }> {
    const now = this.now();
    return this.db.transaction(async (tx) => {
      const expired = await tx.query<{ id: string }>('SELECT id FROM cvv_records WHERE expires_at <= $1', [now]);
      await tx.execute('DELETE FROM cvv_seals WHERE cvv_id IN (SELECT id FROM cvv_records WHERE expires_at <= $1)', [now]);
      await tx.execute('DELETE FROM cvv_records WHERE expires_at <= $1', [now]);
      const intakes = await tx.execute('DELETE FROM card_intakes WHERE expires_at <= $1', [now]);
      for (const { id } of expired) {
        await this.audit.append({ actor: this.actor, action: 'cvv.expire', subject: id, outcome: 'success' }, tx);
      }
      return { cvvs: expired.map((r) => r.id), intakes };
    });
  }

  /**
   * Keeps this worker's CVV epochs going (./cvv-epochs.ts): a fresh one before the current closes,
   * its liveness renewed, and the keys of finished epochs destroyed. Run by the sweeper.
   */
  async maintainCvvEpochs(): Promise<{ created?: string; destroyed: string[] }> {
    return this.cvvEpochs.maintain();
  }

  /** An intake sealed by the API to the intake public key (HPKE), or, if written before that, an envelope record. */
  private async openIntake(intakeRef: string, intake: EnvelopeColumns): Promise<Buffer> {
    if (intake.key_id !== HPKE_INTAKE_KEY_ID) return decryptRecord(this.keys, 'card-intake', intakeAad(intakeRef), intake);
    return hpkeOpen(this.intakeKey, { enc: intake.wrapped_key, ciphertext: intake.ciphertext }, INTAKE_INFO, intakeAad(intakeRef), `the intake ${intakeRef}`);
  }

  /**
   * A CVV sealed to CVV epochs: opened with this worker's epoch key if it holds one of them. If only
   * another live worker does, the attempt is retried (it may land there); if no live worker does —
   * this one restarted, or its owner stopped — the CVV is gone for good: `cvv_unavailable`, and the
   * authorization fails before anything reaches the acquirer.
   */
  private async openCvv(cvvRef: string, record: EnvelopeColumns): Promise<Buffer> {
    if (record.key_id !== HPKE_CVV_KEY_ID) return decryptRecord(this.keys, 'card-cvv', cvvAad(cvvRef), record);
    const seals = await this.db.query<{ epoch_id: string; enc: Buffer; ciphertext: Buffer; owner: string | null; live_until: number | string | null; destroyed_at: number | string | null }>(
      `SELECT s.epoch_id, s.enc, s.ciphertext, e.owner, e.live_until, e.destroyed_at
       FROM cvv_seals s LEFT JOIN cvv_epochs e ON e.id = s.epoch_id WHERE s.cvv_id = $1`,
      [cvvRef],
    );
    for (const seal of seals) {
      const cvc = await this.cvvEpochs.open(seal.epoch_id, { enc: seal.enc, ciphertext: seal.ciphertext }, cvvAad(cvvRef));
      if (cvc) return cvc;
    }
    const now = this.now();
    const heldByLiveWorker = seals.some(
      (s) => s.owner !== null && s.owner !== this.cvvEpochs.owner && s.destroyed_at === null && Number(s.live_until) > now,
    );
    if (heldByLiveWorker) throw new CvvHeldElsewhereError(cvvRef);
    throw new VaultReferenceError(
      'cvv_unavailable',
      // The code leads the message: it is what the payment's failure and timeline show the merchant and operators.
      `cvv_unavailable: CVV ${cvvRef} can no longer be opened (the vault worker whose epoch key sealed it restarted or stopped; the key lived only in its memory)`,
    );
  }

  /** The card as `merchantId` may know it (its fingerprint is that merchant's). */
  async card(token: string, merchantId: string): Promise<TokenizedCard> {
    return this.cardByToken(this.db, token, merchantId);
  }

  /**
   * The fingerprint a merchant sees: a keyed HMAC, under the vault's fingerprint secret, of the
   * merchant and the vault's own card key. Without the secret (it never leaves the vault worker)
   * two merchants' fingerprints of one card cannot be linked, and neither names the global one.
   */
  private merchantFingerprint(cardKey: string, merchantId: string): string {
    const mac = createHmac('sha256', this.fingerprintKey).update(`merchant-fingerprint\0${merchantId}\0${cardKey}`).digest('base64url');
    return `fp_${mac.slice(0, 22)}`;
  }

  private async cardByToken(db: Db, token: string, merchantId: string): Promise<TokenizedCard> {
    const [row] = await db.query<CardRow>('SELECT * FROM cards WHERE token = $1', [token]);
    if (!row) throw new VaultReferenceError('card_not_found', `Card token ${token} does not exist`);
    return {
      token: row.token,
      fingerprint: this.merchantFingerprint(row.fingerprint, merchantId),
      brand: row.brand,
      bin: row.bin,
      last4: row.last4,
      expMonth: row.exp_month,
      expYear: row.exp_year,
      ...(row.issuing_country ? { issuingCountry: row.issuing_country } : {}),
    };
  }
}

/**
 * The HMAC key behind card fingerprints: created once, stored wrapped like any data key, never
 * rotated (fingerprints must stay comparable), re-wrapped with the rest when the master key rotates.
 */
async function loadFingerprintSecret(db: Db, keys: KeyProvider, now: () => number): Promise<Buffer> {
  return loadVaultSecret(db, keys, FINGERPRINT_SECRET, 'fingerprint-secret', now);
}
