import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { CardBehaviour } from './test-cards';

/**
 * The sandbox acquirer's books, in SQLite: one row per money movement, the idempotency records
 * (the final answer to each idempotency key), and the attempt counters of the test card that
 * fails transiently.
 *
 * No column holds a PAN or a CVC, not even hashed alone: an authorization keeps the card's last
 * four digits and its test-card behaviour, and an idempotency record keeps a SHA-256 of the whole
 * request only to tell a retry from a different request.
 */

export type MovementKind = 'authorization' | 'capture' | 'void' | 'refund' | 'settlement';
/** Authorizations are approved or declined (a decline moves nothing: amount 0); the rest succeeded. */
export type MovementStatus = 'approved' | 'declined' | 'succeeded';

/** A ledger row as GET /_sandbox/ledger returns it. */
export interface LedgerEntry {
  ref: string;
  kind: MovementKind;
  status: MovementStatus;
  /** The authorization of a capture or void; the capture of a refund or settlement. */
  parent_ref: string | null;
  /** Minor units moved; 0 for a declined authorization. */
  amount: number;
  currency: string;
  merchant_id: string;
  idempotency_key: string;
  /** Authorizations only. */
  card_last4: string | null;
  /** Authorizations only: which test-card behaviour the card has. */
  card_behaviour: CardBehaviour | null;
  /** Authorizations only: the expiry sent, MM/YYYY (no number beside it but the last four). */
  card_exp: string | null;
  /** ISO 8601, UTC. */
  created_at: string;
}

export type NewMovement = Omit<LedgerEntry, 'created_at' | 'parent_ref' | 'card_last4' | 'card_behaviour' | 'card_exp'> &
  Partial<Pick<LedgerEntry, 'parent_ref' | 'card_last4' | 'card_behaviour' | 'card_exp'>>;

/** The final answer given to an idempotency key, replayed to every retry of the same request. */
export interface StoredAnswer {
  idempotencyKey: string;
  operation: string;
  requestHash: string;
  httpStatus: number;
  body: unknown;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  ref             TEXT NOT NULL UNIQUE,
  kind            TEXT NOT NULL CHECK (kind IN ('authorization', 'capture', 'void', 'refund', 'settlement')),
  status          TEXT NOT NULL CHECK (status IN ('approved', 'declined', 'succeeded')),
  parent_ref      TEXT REFERENCES ledger (ref),
  amount          INTEGER NOT NULL CHECK (amount >= 0),
  currency        TEXT NOT NULL,
  merchant_id     TEXT NOT NULL,
  -- One movement per key at most: the database itself refuses a second one.
  idempotency_key TEXT NOT NULL UNIQUE,
  card_last4      TEXT,
  card_behaviour  TEXT,
  card_exp        TEXT,
  created_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_parent ON ledger (parent_ref, kind);

CREATE TABLE IF NOT EXISTS idempotency_records (
  idempotency_key TEXT PRIMARY KEY,
  operation       TEXT NOT NULL,
  request_hash    TEXT NOT NULL,
  http_status     INTEGER NOT NULL,
  response        TEXT NOT NULL,
  created_at      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS transient_attempts (
  idempotency_key TEXT PRIMARY KEY,
  attempts        INTEGER NOT NULL
);
`;

const ENTRY_COLUMNS = 'ref, kind, status, parent_ref, amount, currency, merchant_id, idempotency_key, card_last4, card_behaviour, card_exp, created_at';

interface AnswerRow {
  idempotency_key: string;
  operation: string;
  request_hash: string;
  http_status: number;
  response: string;
}

export class Ledger {
  private constructor(
    private readonly db: Database.Database,
    private readonly now: () => Date,
  ) {}

  /** Opens (creating if need be) the ledger file; ':memory:' for a throwaway one. */
  static open(file: string, now: () => Date = () => new Date()): Ledger {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.exec(SCHEMA);
    // Ledgers written before the expiry was kept gain the column (empty for their rows).
    const columns = db.prepare('PRAGMA table_info(ledger)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'card_exp')) db.exec('ALTER TABLE ledger ADD COLUMN card_exp TEXT');
    return new Ledger(db, now);
  }

  /**
   * Runs `work` in one transaction. better-sqlite3 is synchronous and `work` must be too, so an
   * operation's check-then-write (is it captured yet? then capture) cannot interleave with another.
   */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  record(movement: NewMovement): LedgerEntry {
    const entry: LedgerEntry = {
      parent_ref: null,
      card_last4: null,
      card_behaviour: null,
      card_exp: null,
      ...movement,
      created_at: this.now().toISOString(),
    };
    this.db
      .prepare(
        `INSERT INTO ledger (${ENTRY_COLUMNS}) VALUES
         (@ref, @kind, @status, @parent_ref, @amount, @currency, @merchant_id, @idempotency_key, @card_last4, @card_behaviour, @card_exp, @created_at)`,
      )
      .run(entry);
    return entry;
  }

  find(ref: string): LedgerEntry | undefined {
    return this.db.prepare(`SELECT ${ENTRY_COLUMNS} FROM ledger WHERE ref = ?`).get(ref) as LedgerEntry | undefined;
  }

  childrenOf(parentRef: string, kind: MovementKind): LedgerEntry[] {
    return this.db
      .prepare(`SELECT ${ENTRY_COLUMNS} FROM ledger WHERE parent_ref = ? AND kind = ? ORDER BY seq`)
      .all(parentRef, kind) as LedgerEntry[];
  }

  entries(): LedgerEntry[] {
    return this.db.prepare(`SELECT ${ENTRY_COLUMNS} FROM ledger ORDER BY seq`).all() as LedgerEntry[];
  }

  /**
   * The day's settlement report: every money movement (captures, refunds, settlements) the
   * acquirer booked on `date` (YYYY-MM-DD, UTC), in booking order. Authorizations and voids move
   * no money and are not in it.
   */
  movementsOn(date: string): LedgerEntry[] {
    return this.db
      .prepare(`SELECT ${ENTRY_COLUMNS} FROM ledger WHERE kind IN ('capture', 'refund', 'settlement') AND status = 'succeeded' AND substr(created_at, 1, 10) = ? ORDER BY seq`)
      .all(date) as LedgerEntry[];
  }

  findAnswer(idempotencyKey: string): StoredAnswer | undefined {
    const row = this.db
      .prepare('SELECT idempotency_key, operation, request_hash, http_status, response FROM idempotency_records WHERE idempotency_key = ?')
      .get(idempotencyKey) as AnswerRow | undefined;
    if (row === undefined) return undefined;
    return {
      idempotencyKey: row.idempotency_key,
      operation: row.operation,
      requestHash: row.request_hash,
      httpStatus: row.http_status,
      body: JSON.parse(row.response) as unknown,
    };
  }

  saveAnswer(answer: StoredAnswer): void {
    this.db
      .prepare(
        `INSERT INTO idempotency_records (idempotency_key, operation, request_hash, http_status, response, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(answer.idempotencyKey, answer.operation, answer.requestHash, answer.httpStatus, JSON.stringify(answer.body), this.now().toISOString());
  }

  /** Counts one more attempt under the key and returns the count including this one. */
  countAttempt(idempotencyKey: string): number {
    const row = this.db
      .prepare(
        `INSERT INTO transient_attempts (idempotency_key, attempts) VALUES (?, 1)
         ON CONFLICT (idempotency_key) DO UPDATE SET attempts = attempts + 1
         RETURNING attempts`,
      )
      .get(idempotencyKey) as { attempts: number };
    return row.attempts;
  }

  close(): void {
    this.db.close();
  }
}
