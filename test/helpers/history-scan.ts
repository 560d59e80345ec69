import type { Payload } from '@temporalio/common';
import { historyFromJSON } from './history-json';
import { ENCRYPTED_ENCODING } from '../../src/temporal/payload-codec';
import { luhnValid } from '../../src/vault/card-validation';
import { payloadsIn } from './leak-scan';
import { cardSecrets } from './test-cards';

/**
 * The checks a recorded (committed) history must pass (docs/replay.md): no test card number or
 * CVC and no Luhn-valid 13–19 digit run anywhere in it, in its JSON or inside any payload, and no
 * payload still encrypted by the gateway's codec (a committed history must need no key). Findings
 * name the place and at most the last four characters, so the report repeats no card data.
 */

/** Counters that are digits by nature (event ids, task ids, versions): a CVC-like value there is not a CVC. */
const COUNTER_KEYS = /(^|[a-z])(eventId|EventId|taskId|TaskId|version|Version|attempt|Attempt)$/;

const DIGIT_RUN = /(?<!\d)\d{13,19}(?!\d)/g;

function findIn(text: string, where: string, secrets: string[], problems: string[]): void {
  for (const secret of secrets) {
    if (text.includes(secret)) problems.push(`${where}: a test card secret ending ${secret.replace(/"/g, '').slice(-4)}`);
  }
  for (const run of text.match(DIGIT_RUN) ?? []) {
    if (luhnValid(run)) problems.push(`${where}: a Luhn-valid ${run.length}-digit run ending ${run.slice(-4)}`);
  }
}

/** Every string value of parsed JSON with its path, counters left out. */
function stringsIn(node: unknown, at: string, out: { at: string; text: string }[]): void {
  if (typeof node === 'string') out.push({ at, text: node });
  else if (Array.isArray(node)) node.forEach((v, i) => stringsIn(v, `${at}[${i}]`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) if (!COUNTER_KEYS.test(k)) stringsIn(v, `${at}.${k}`, out);
  }
}

const utf8 = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : '');

/** Is this payload still in the gateway codec's encrypted form? */
export function isEncrypted(payload: Payload): boolean {
  const metadata = payload.metadata ?? {};
  return utf8(metadata.encoding) === ENCRYPTED_ENCODING || Object.keys(metadata).some((k) => k.startsWith('encryption-'));
}

export interface HistoryScanResult {
  events: number;
  payloads: number;
  problems: string[];
}

/** Scans one history in the SDK's JSON form (`historyToJSON`), named `where` in the findings. */
export function scanHistoryJson(json: string, where: string, secrets: string[] = cardSecrets()): HistoryScanResult {
  const problems: string[] = [];
  const parsed: unknown = JSON.parse(json);

  // 1. The JSON itself: each string value (a failure message, a search attribute, a name), as
  //    as itself and as JSON text, so a quoted CVC matches both `{"cvc":"731"}` and a value that is exactly `731`.
  const strings: { at: string; text: string }[] = [];
  stringsIn(parsed, '', strings);
  for (const { at, text } of strings) findIn(`${text}\n${JSON.stringify(text)}`, `${where}${at}`, secrets, problems);

  // 2. Every payload, decoded from base64: its metadata and its data.
  const history = historyFromJSON(parsed);
  const payloads = payloadsIn(history);
  payloads.forEach((payload, i) => {
    const place = `${where}, payload #${i + 1} (${utf8(payload.metadata?.encoding) || 'no encoding'})`;
    if (isEncrypted(payload)) problems.push(`${place}: still encrypted with the gateway codec; record with the codec's key so it is decoded`);
    const text = [...Object.entries(payload.metadata ?? {}).map(([k, v]) => `${k}=${utf8(v)}`), utf8(payload.data)].join('\n');
    findIn(text, place, secrets, problems);
  });

  return { events: history.events?.length ?? 0, payloads: payloads.length, problems: [...new Set(problems)] };
}
