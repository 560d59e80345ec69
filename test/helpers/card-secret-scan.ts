import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SIMULATED_CARDS, TEST_CARDS, TEST_CVCS, simulatedCard } from './test-cards';

/**
 * Finds a test card number or CVC in any form it could be stored in (DESIGN.md §6, issue 10):
 * bare, hex-encoded, base64-encoded (standard or URL-safe, at any alignment inside a longer
 * token), or inside JSON — in log lines and in raw database pages alike. Reports say where and the
 * last characters only, so a report never repeats card data.
 *
 * What "bare" can mean for a CVC: a card number is 13–19 digits and unmistakable anywhere. The
 * four-digit test CVC (7319) is looked for bare in database files, between bytes that are not
 * printable text (a random 4-byte match is ~1 in 4·10⁹ per position), but not in logs, where
 * "took 7319 ms" is a number. A three-digit CVC (731) cannot be told from random bytes (a
 * ciphertext matches it every ~16 MB), so everywhere it is searched in every form that carries it
 * as a value — quoted ("731", '731'), labelled (cvc=731, "cvv":731, security code 731), as a
 * whole hex or base64 token, or inside a decoded hex/base64 token — and in SQLite files every
 * cell is also read, so a CVC stored bare as a column value (TEXT '731') is found.
 */

const PANS = new Set<string>([...Object.values(TEST_CARDS), ...Array.from({ length: SIMULATED_CARDS }, (_, i) => simulatedCard(i))]);
const FOUR_DIGIT_CVCS: string[] = TEST_CVCS.filter((c) => c.length === 4);
const ALL_CVCS: string[] = [...TEST_CVCS];

// A whole digit run, but not the fraction of a decimal number: a float such as 0.4000000000000002
// (a stored model feature) is no card number, and no card number is stored as a fraction.
const DIGIT_RUN = /(?<!\d\.)(?<!\d)\d{13,4096}/g;
/** Hex long enough to hold a 3-digit value with a label or quotes, or a card number. */
const HEX_RUN = /(?:[0-9a-f]{2}){5,2048}|(?:[0-9A-F]{2}){5,2048}/g;
/**
 * Base64 long enough to hold the same (shorter tokens are compared whole, below). Very long tokens
 * are taken 4 KiB at a time (a regex over one 10 MB token overflows the stack); each piece is
 * decoded at all four alignments.
 */
const BASE64_TOKEN = /[A-Za-z0-9+/_-]{12,4096}={0,2}/g;
/**
 * A token compared whole against a CVC's encodings (8 characters at most), so only tokens of up to
 * 16 are taken: an unbounded `+` over one 11 MB base64 token overflowed V8's regex stack in CI.
 */
const WHOLE_TOKEN = /(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_=-]{1,16}(?![A-Za-z0-9+/_=-])/g;
const WHOLE_ENCODINGS = new Map<string, string>(
  TEST_CVCS.flatMap((cvc) => [
    [Buffer.from(cvc).toString('base64'), cvc],
    [Buffer.from(cvc).toString('base64url'), cvc],
    [Buffer.from(cvc).toString('hex'), cvc],
  ]),
);
const cvcBoundary = (cvc: string) => `(?<![0-9])${cvc}(?![0-9])`;
const CVC_IN_CONTEXT = ALL_CVCS.map(
  (cvc) =>
    new RegExp(
      [
        `["']${cvc}["']`,
        `(?:cvc|cvv|cvc2|cvv2|csc|cid|security[ _-]?code)["']?\\s*[:=]?\\s*["']?${cvcBoundary(cvc)}`,
      ].join('|'),
      'i',
    ),
);
/**
 * A 4-digit CVC bare in binary data (a database page): between bytes that are not printable text.
 * Not in text: "took 7319 ms" is a number, not a CVC.
 */
const BARE_FOUR_DIGIT = FOUR_DIGIT_CVCS.map((cvc) => new RegExp(`(?<![\\x20-\\x7e])${cvc}(?![\\x20-\\x7e])`));

const tail = (secret: string) => secret.slice(-4);

function pansInDigits(digits: string): string[] {
  const found: string[] = [];
  for (let len = 13; len <= 19; len++) {
    for (let i = 0; i + len <= digits.length; i++) {
      const candidate = digits.slice(i, i + len);
      if (PANS.has(candidate)) found.push(candidate);
    }
  }
  return found;
}

/** Hits in one text (bytes read as latin1), without decoding. */
function plainHits(text: string, form: string, binary = false): string[] {
  const hits: string[] = [];
  for (const run of text.match(DIGIT_RUN) ?? []) for (const pan of pansInDigits(run)) hits.push(`a test card secret ending ${tail(pan)} (card number, ${form})`);
  CVC_IN_CONTEXT.forEach((re, i) => {
    if (re.test(text)) hits.push(`a test card secret ending ${tail(ALL_CVCS[i]!)} (CVC, ${form}, as a value)`);
  });
  BARE_FOUR_DIGIT.forEach((re, i) => {
    if (binary && re.test(text)) hits.push(`a test card secret ending ${tail(FOUR_DIGIT_CVCS[i]!)} (CVC, ${form}, bare)`);
  });
  return hits;
}

/** The whole text, and every hex run and base64 token in it decoded (one level deep: enough for any encoding we store). */
export function findCardSecrets(text: string, options: { binary?: boolean } = {}): string[] {
  const hits = plainHits(text, 'plain', options.binary);
  for (const run of text.match(HEX_RUN) ?? []) hits.push(...plainHits(Buffer.from(run, 'hex').toString('latin1'), 'hex'));
  for (const token of text.match(BASE64_TOKEN) ?? []) {
    if (/^\d+$/.test(token)) continue; // a digit run, already searched bare
    // A value inside a longer encoded string starts at any of 4 offsets of the base64 alphabet.
    for (let shift = 0; shift < 4; shift++) {
      const body = token.slice(shift).replace(/=+$/, '');
      for (const decoded of new Set([Buffer.from(body, 'base64').toString('latin1'), Buffer.from(body, 'base64url').toString('latin1')])) {
        hits.push(...plainHits(decoded, 'base64'));
      }
    }
  }
  // A CVC encoded on its own: a whole token that is exactly its base64 or hex.
  for (const token of text.match(WHOLE_TOKEN) ?? []) {
    const cvc = WHOLE_ENCODINGS.get(token);
    if (cvc) hits.push(`a test card secret ending ${tail(cvc)} (CVC, encoded, a whole token)`);
  }
  return [...new Set(hits)];
}

/** Every cell of every table of a SQLite file (read from a copy, with its -wal, so the original is untouched). */
export function findCardSecretsInSqliteCells(file: string): string[] {
  const dir = fs.mkdtempSync(path.join(path.dirname(file), '.scan-'));
  try {
    for (const suffix of ['', '-wal']) if (fs.existsSync(file + suffix)) fs.copyFileSync(file + suffix, path.join(dir, `copy.db${suffix}`));
    let db: Database.Database;
    try {
      db = new Database(path.join(dir, 'copy.db'));
      db.pragma('schema_version');
    } catch {
      return []; // not a SQLite database after all
    }
    const hits: string[] = [];
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      for (const { name } of tables) {
        // nosemgrep: gateway.sql-built-from-string -- a table name read from sqlite_master of a copied test database, quoted; a table name cannot be bound
        for (const row of db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).iterate() as Iterable<Record<string, unknown>>) {
          for (const [column, value] of Object.entries(row)) {
            if (value === null || value === undefined) continue;
            const text = Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
            const trimmed = text.trim();
            // A CVC is kept as text or bytes; a number cell equal to one (a sequence number, an
            // amount: 731 of them in any busy database) is not a CVC.
            const whole = typeof value === 'number' || typeof value === 'bigint'
              ? undefined
              : ALL_CVCS.find((cvc) => [cvc, Buffer.from(cvc).toString('base64'), Buffer.from(cvc).toString('hex')].includes(trimmed));
            if (whole) hits.push(`a test card secret ending ${tail(whole)} (CVC, the whole value of ${name}.${column})`);
            for (const hit of findCardSecrets(text)) hits.push(`${hit} in ${name}.${column}`);
          }
        }
      }
    } finally {
      db.close();
    }
    return [...new Set(hits)];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const SQLITE_FILE = /\.(db|sqlite|sqlite3)(-wal|-journal)?$/;

/** SQLite files (with their -wal and journals) under a directory, recursively. */
export function sqliteFilesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile() && SQLITE_FILE.test(e.name))
    .map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

/**
 * Scans files: each one's raw bytes (so deleted rows left in free pages or a -wal are seen), and
 * for a SQLite database every cell as well. Returns the hits, each with its file's name.
 */
export function findCardSecretsInFiles(files: string[]): string[] {
  const hits: string[] = [];
  for (const file of files) {
    const binary = SQLITE_FILE.test(file);
    for (const hit of findCardSecrets(fs.readFileSync(file, 'latin1'), { binary })) hits.push(`${path.basename(file)}: ${hit}`);
    if (/\.(db|sqlite|sqlite3)$/.test(file)) for (const hit of findCardSecretsInSqliteCells(file)) hits.push(`${path.basename(file)}: ${hit}`);
  }
  return hits;
}

/** Throws if any of a test data directory's SQLite files holds card data (run by the stacks before they delete their data). */
export function assertNoCardDataInDataDir(dir: string): { files: number } {
  const files = sqliteFilesUnder(dir);
  const hits = findCardSecretsInFiles(files);
  if (hits.length) throw new Error(`Card data found in the database files of ${dir}:\n${hits.join('\n')}`);
  return { files: files.length };
}
