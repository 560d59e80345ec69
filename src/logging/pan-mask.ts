import { luhnValid } from '../vault/card-validation';

/**
 * The last line of defence for logs (DESIGN.md §3, invariant 2): any run of 13–19 digits (spaces
 * or dashes allowed between them) that passes the Luhn check is masked to its last four, wherever
 * it appears in a string. Redaction of known card fields comes first; this catches card numbers
 * that turn up where nobody expected them (an error message, a URL, a free-text field).
 */
const CANDIDATE = /\d(?:[ -]?\d){12,18}/g;

export function maskPans(text: string): string {
  if (!/\d{4}/.test(text)) return text;
  return text.replace(CANDIDATE, (run) => {
    const digits = run.replace(/[ -]/g, '');
    return digits.length >= 13 && luhnValid(digits) ? `[card ****${digits.slice(-4)}]` : run;
  });
}

/** Masks every string in a value, recursively; errors become plain objects with masked message and stack. */
export function maskPansDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskPans(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const masked: Record<string, unknown> = { type: value.name, message: maskPans(value.message), stack: value.stack ? maskPans(value.stack) : undefined };
    for (const [k, v] of Object.entries(value)) masked[k] = maskPansDeep(v, depth + 1);
    if (value.cause !== undefined) masked.cause = maskPansDeep(value.cause, depth + 1);
    return masked;
  }
  if (Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map((v) => maskPansDeep(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskPansDeep(v, depth + 1)]));
}

/** Maximal digit runs, without separators and with single spaces or dashes between digits. */
const BARE_RUN = /\d+/g;
const SEPARATED_RUN = /\d(?:[ -]?\d)*/g;

/**
 * Whether `text` holds something that looks like a card number: a run of 13–19 digits that
 * passes the Luhn check, bare or written with spaces or dashes. Used to refuse free-text fields
 * (src/api/free-text.ts) before they reach a Temporal payload. Both bare and separated runs are
 * tried, so "order 7 4242 4242 4242 4242" (one 17-digit separated run) and "ref 12 4242424242424242"
 * are both caught; a longer run of digits alone (an order number of 25 digits) is not a card.
 */
export function containsPan(text: string): boolean {
  if (!/\d{4}/.test(text)) return false;
  for (const pattern of [BARE_RUN, SEPARATED_RUN]) {
    for (const [run] of text.matchAll(pattern)) {
      const digits = run.replace(/[ -]/g, '');
      if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return true;
    }
  }
  return false;
}
