import type { Db } from '../storage/db';
import { INTAKE_KEY_NAME } from './sealed-formats';

/** The vault has not published a key the API can seal to (not started yet, or its heartbeat stopped). */
export class VaultUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultUnavailableError';
  }
}

export interface SealableEpoch {
  id: string;
  publicKey: Buffer;
}

/**
 * The API's view of the vault's keys: public halves only, read from the database where the vault
 * worker publishes them. Nothing here can open what it seals.
 */
export class VaultPublicKeys {
  private intakeKey: Buffer | undefined;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  /** The vault's intake public key; it never changes once published, so it is read once. */
  async intake(): Promise<Buffer> {
    if (this.intakeKey) return this.intakeKey;
    const [row] = await this.db.query<{ public_key: Buffer }>('SELECT public_key FROM vault_public_keys WHERE name = $1', [INTAKE_KEY_NAME]);
    if (!row) throw new VaultUnavailableError('The card vault has not published its intake key yet (is the vault worker running?)');
    this.intakeKey = Buffer.from(row.public_key);
    return this.intakeKey;
  }

  /**
   * The newest sealable epoch of every live vault worker: a CVV is sealed to each, so whichever
   * vault worker takes the authorization can open it (docs/vault.md, "Several vault workers").
   * Read on every seal: an epoch must not be used after its window closes.
   */
  async cvvEpochs(): Promise<SealableEpoch[]> {
    const now = this.now();
    const rows = await this.db.query<{ id: string; owner: string; public_key: Buffer; created_at: number | string }>(
      `SELECT id, owner, public_key, created_at FROM cvv_epochs
       WHERE destroyed_at IS NULL AND seal_until > $1 AND live_until > $1
       ORDER BY created_at DESC, id`,
      [now],
    );
    const newestPerOwner = new Map<string, SealableEpoch>();
    for (const row of rows) if (!newestPerOwner.has(row.owner)) newestPerOwner.set(row.owner, { id: row.id, publicKey: Buffer.from(row.public_key) });
    if (newestPerOwner.size === 0) throw new VaultUnavailableError('No vault worker has a live CVV key (is the vault worker running?)');
    return [...newestPerOwner.values()];
  }
}
