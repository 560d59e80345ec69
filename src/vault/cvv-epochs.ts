import type { webcrypto } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log';
import type { Db } from '../storage/db';
import { generateHpkeKeyPair, hpkeOpen, type HpkeSealed } from './crypto/hpke';
import { cvvInfo } from './sealed-formats';

export interface CvvEpochOptions {
  /** How long the API may seal to an epoch after it is made. */
  sealWindowMs: number;
  /** How often the vault calls `maintain` (its sweep interval): the published liveness covers three of them. */
  maintenanceIntervalMs: number;
  now?: () => number;
  /** Where each destruction is recorded (`cvv.epoch_destroy`), with the actor. */
  audit?: { log: AuditLog; actor: string };
}

/** Seals to an epoch that closed a moment ago may still be committing: wait this long before the epoch can be destroyed. */
const CLOSE_GRACE_MS = 30_000;

interface Epoch {
  id: string;
  privateKey: webcrypto.CryptoKey;
  sealUntil: number;
}

/**
 * CVV crypto-shredding (DESIGN.md §3a, docs/vault.md "CVV epochs"). CVVs are sealed by the API to
 * short-lived epoch public keys; each epoch's private key is made here, kept only in this
 * process's memory (never serialised, never wrapped, never logged), and dropped as soon as the
 * epoch's seal window has closed and no CVV sealed to it remains. From then on no copy of those
 * CVVs — a deleted row in SQLite's -wal or PostgreSQL's dead tuples and WAL, a backup — can be
 * opened with any key that exists. Deleting a row is not destruction; dropping the only key is.
 *
 * A restarted worker starts with no epochs: the CVVs sealed to its old ones are unreadable
 * (`cvv_unavailable`), which is the point. Several vault workers each hold their own epochs; the
 * API seals every CVV to the newest epoch of each live worker.
 */
export class CvvEpochs {
  /** This process's identity in `cvv_epochs.owner`: a new one at every start. */
  readonly owner = `vw_${randomBytes(9).toString('base64url')}`;
  private readonly epochs = new Map<string, Epoch>();
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    private readonly options: CvvEpochOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Makes a new epoch when the current one is about to close (so the API always has one to seal
   * to), renews this worker's liveness, and destroys the epochs whose CVVs are all gone.
   */
  async maintain(): Promise<{ created?: string; destroyed: string[] }> {
    const now = this.now();
    const liveUntil = now + 3 * this.options.maintenanceIntervalMs;
    let created: string | undefined;
    const newest = [...this.epochs.values()].reduce<Epoch | undefined>((a, b) => (a && a.sealUntil >= b.sealUntil ? a : b), undefined);
    if (!newest || newest.sealUntil - now <= 2 * this.options.maintenanceIntervalMs) created = await this.create(now, liveUntil);
    await this.db.execute('UPDATE cvv_epochs SET live_until = $1 WHERE owner = $2 AND destroyed_at IS NULL', [liveUntil, this.owner]);
    return { ...(created ? { created } : {}), destroyed: await this.destroyFinished(now) };
  }

  /** Opens a CVV sealed to one of this worker's epochs; undefined if the epoch is not (or no longer) ours. */
  async open(epochId: string, sealed: HpkeSealed, aad: string): Promise<Buffer | undefined> {
    const epoch = this.epochs.get(epochId);
    if (!epoch) return undefined;
    return hpkeOpen(epoch.privateKey, sealed, cvvInfo(epochId), aad, `the CVV ${aad}`);
  }

  /**
   * Tries every private key this worker still holds on a CVV sealed to `claimedEpochId`. Only the
   * right key opens it; the shredding tests use this to show that once an epoch is destroyed, no
   * key still in memory opens its copies.
   */
  async openWithAnyHeldKey(claimedEpochId: string, sealed: HpkeSealed, aad: string): Promise<Buffer | undefined> {
    for (const epoch of this.epochs.values()) {
      const cvc = await hpkeOpen(epoch.privateKey, sealed, cvvInfo(claimedEpochId), aad, `the CVV ${aad}`).catch(() => undefined);
      if (cvc) return cvc;
    }
    return undefined;
  }

  /** Epochs whose private key this process still holds (for the shredding tests and the logs). */
  heldEpochIds(): string[] {
    return [...this.epochs.keys()];
  }

  /**
   * Drops every key at shutdown (nothing sealed to them can be opened after this process ends
   * anyway) and says so in `cvv_epochs`, so the API stops sealing to them and other vault workers
   * stop waiting for this one at once. A worker that is killed cannot: its epochs look alive until
   * their heartbeat (`live_until`, three sweep intervals) runs out.
   */
  async dropAll(): Promise<void> {
    this.epochs.clear();
    await this.db.execute('UPDATE cvv_epochs SET destroyed_at = $1 WHERE owner = $2 AND destroyed_at IS NULL', [this.now(), this.owner]);
  }

  private async create(now: number, liveUntil: number): Promise<string> {
    const id = `cep_${randomBytes(12).toString('base64url')}`;
    const pair = await generateHpkeKeyPair();
    const sealUntil = now + Math.max(this.options.sealWindowMs, 3 * this.options.maintenanceIntervalMs);
    this.epochs.set(id, { id, privateKey: pair.privateKey, sealUntil });
    await this.db.execute(
      `INSERT INTO cvv_epochs (id, owner, public_key, created_at, seal_until, live_until, destroyed_at)
       VALUES ($1, $2, $3, $4, $5, $6, NULL)`,
      [id, this.owner, pair.publicKey, now, sealUntil, liveUntil],
    );
    return id;
  }

  private async destroyFinished(now: number): Promise<string[]> {
    const destroyed: string[] = [];
    for (const epoch of this.epochs.values()) {
      if (epoch.sealUntil + CLOSE_GRACE_MS > now) continue;
      const [left] = await this.db.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM cvv_seals WHERE epoch_id = $1', [epoch.id]);
      if (Number(left!.n) > 0) continue; // a CVV still waits for its authorization (or a review)
      // The only reference to the private key goes: this is the destruction.
      this.epochs.delete(epoch.id);
      await this.db.transaction(async (tx) => {
        await tx.execute('UPDATE cvv_epochs SET destroyed_at = $1 WHERE id = $2', [now, epoch.id]);
        await this.options.audit?.log.append({ actor: this.options.audit.actor, action: 'cvv.epoch_destroy', subject: epoch.id, outcome: 'success', details: { owner: this.owner } }, tx);
      });
      destroyed.push(epoch.id);
    }
    return destroyed;
  }
}
