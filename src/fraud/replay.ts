import fs from 'node:fs';
import readline from 'node:readline';
import zlib from 'node:zlib';
import {
  LABEL_DELAY_MS,
  computeFeatures,
  emptyState,
  recordFraudReport,
  recordPayment,
  type EntityState,
  type FeatureVector,
} from './features';

/**
 * Replay of transactions in the shared data's format (../shared/data/fraud-sim/README.md) through
 * the feature pipeline the live worker uses: terminal = merchant, customer = card, and a row labelled
 * fraud counts as reported 7 days after its time. The feature states live in memory here (one small
 * bounded state per card and merchant); the live worker keeps the same states in its database.
 */

export const CSV_HEADER = ['TRANSACTION_ID', 'TX_DATETIME', 'CUSTOMER_ID', 'TERMINAL_ID', 'TX_AMOUNT', 'TX_FRAUD'] as const;

export interface TransactionRow {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  id: string;
  /** Epoch milliseconds. */
  at: number;
  customer: string;
  terminal: string;
  amountMinor: number;
  /** 1 fraud, 0 genuine, undefined unknown (an empty TX_FRAUD). */
  fraud: 0 | 1 | undefined;
}

export class MalformedInputError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    what: string,
  ) {
    super(`${file}:${line}: ${what}`);
    this.name = 'MalformedInputError';
  }
}

const DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z?$/;
const AMOUNT = /^\d{1,12}(\.\d{1,2})?$/;

/**
 * Reads a transactions file (`.csv` or `.csv.gz`), checking every line: the header, six fields,
 * a time that parses, an amount with at most two decimals, a label that is 0, 1 or empty, and rows
 * in time order. A bad line stops the read with its line number.
 */
export async function* readTransactions(file: string): AsyncGenerator<TransactionRow> {
  const raw = fs.createReadStream(file);
  const input = file.endsWith('.gz') ? raw.pipe(zlib.createGunzip()) : raw;
  raw.on('error', (err) => input.emit('error', err));
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  let previousAt = -Infinity;
  try {
    for await (const text of lines) {
      line++;
      if (line === 1) {
        if (text.replace(/^\uFEFF/, '').trim() !== CSV_HEADER.join(',')) {
          throw new MalformedInputError(file, 1, `expected the header ${CSV_HEADER.join(',')}`);
        }
        continue;
      }
      if (text.trim() === '') continue;
      const fields = text.split(',');
      if (fields.length !== 6) throw new MalformedInputError(file, line, `expected 6 fields, found ${fields.length}`);
      const [id, datetime, customer, terminal, amount, label] = fields.map((f) => f.trim()) as [string, string, string, string, string, string];
      if (!id) throw new MalformedInputError(file, line, 'TRANSACTION_ID is empty');
      if (!DATETIME.test(datetime)) throw new MalformedInputError(file, line, 'TX_DATETIME is not a UTC time like 2018-04-01T00:00:31Z');
      const at = Date.parse(`${datetime.replace(' ', 'T').replace(/Z?$/, '')}Z`);
      if (!Number.isFinite(at)) throw new MalformedInputError(file, line, 'TX_DATETIME is not a valid date');
      if (at < previousAt) throw new MalformedInputError(file, line, 'rows are not in time order (TX_DATETIME goes back)');
      previousAt = at;
      if (!customer) throw new MalformedInputError(file, line, 'CUSTOMER_ID is empty');
      if (!terminal) throw new MalformedInputError(file, line, 'TERMINAL_ID is empty');
      if (!AMOUNT.test(amount)) throw new MalformedInputError(file, line, 'TX_AMOUNT is not an amount with at most two decimals');
      const amountMinor = Math.round(Number(amount) * 100);
      if (label !== '' && label !== '0' && label !== '1') throw new MalformedInputError(file, line, 'TX_FRAUD must be 0, 1 or empty');
      yield { line, id, at, customer, terminal, amountMinor, fraud: label === '' ? undefined : label === '1' ? 1 : 0 };
    }
  } finally {
    lines.close();
    raw.destroy();
  }
  if (line === 0) throw new MalformedInputError(file, 1, 'the file is empty (no header)');
}

interface PendingLabel {
  knownAt: number;
  txAt: number;
  customer: string;
  terminal: string;
}

/**
 * The feature pipeline over a stream of rows in time order, with labels released 7 days late.
 * `features(row)` returns the row's features and then records it, as the live check does.
 */
export class ReplayFeatures {
  private readonly cards = new Map<string, EntityState>();
  private readonly merchants = new Map<string, EntityState>();
  /** Rows are in time order, so labels become known in that order too: a FIFO queue. */
  private readonly pending: PendingLabel[] = [];
  private head = 0;

  constructor(private readonly labelDelayMs = LABEL_DELAY_MS) {}

  features(row: Pick<TransactionRow, 'at' | 'customer' | 'terminal' | 'amountMinor' | 'fraud'>): FeatureVector {
    this.releaseLabels(row.at);
    const card = this.state(this.cards, row.customer);
    const merchant = this.state(this.merchants, row.terminal);
    const tx = { at: row.at, amountMinor: row.amountMinor };
    const features = computeFeatures(tx, card, merchant);
    recordPayment(card, tx, true);
    recordPayment(merchant, tx, false);
    if (row.fraud === 1) this.pending.push({ knownAt: row.at + this.labelDelayMs, txAt: row.at, customer: row.customer, terminal: row.terminal });
    return features;
  }

  /** Entities held in memory (bounded by the number of distinct cards and merchants). */
  get size(): number {
    return this.cards.size + this.merchants.size;
  }

  private releaseLabels(now: number): void {
    while (this.head < this.pending.length && this.pending[this.head]!.knownAt <= now) {
      const label = this.pending[this.head++]!;
      recordFraudReport(this.state(this.cards, label.customer), label.txAt, label.knownAt);
      recordFraudReport(this.state(this.merchants, label.terminal), label.txAt, label.knownAt);
    }
    if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }

  private state(map: Map<string, EntityState>, key: string): EntityState {
    let s = map.get(key);
    if (!s) {
      s = emptyState();
      map.set(key, s);
    }
    return s;
  }
}
