import http from 'node:http';
import path from 'node:path';
import querystring from 'node:querystring';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { CURRENCIES, createPaymentBody, listQuery, PAYMENT_STATUSES } from '../../src/api/payments/schemas';
import { balanceQuery, balanceTransactionsQuery } from '../../src/api/balance/schemas';
import { DOCS_ASSET_FILES } from '../../src/api/openapi/routes';
import { payloadsBody } from '../../src/api/routes/codec';
import { validateCard } from '../../src/vault/card-validation';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { assertNoCardDataInFiles } from '../helpers/leak-scan';
import { cardSecrets, TEST_CARDS, TEST_CVCS } from '../helpers/test-cards';

/**
 * Fuzzing the HTTP edge (property-based, fast-check): thousands of malformed requests (wrong
 * types, huge and negative numbers, unicode, missing and unknown fields, deep nesting, oversized
 * bodies, bad JSON, wrong Content-Type and Content-Encoding, bad ids and query strings, bad
 * bearer tokens) against every route of the route table (src/api/openapi/routes.ts), on the real
 * stack (dev server, workers, acquirer sandbox, API process). Every answer must be below 500 and,
 * unless it is a 2xx to a request that may be valid, in the API's error shape. Afterwards no
 * payment workflow, vault record or acquirer movement may exist.
 *
 * POST /v1/payments bodies are never valid: each is a valid payment with at least one mutation
 * that breaks it (checked with the API's own schema and card validation before it is sent).
 * Requests go out through node:http rather than fetch, so that GET requests can carry bodies and
 * paths reach the server exactly as written (no `..` normalisation).
 */

const CURRENT_YEAR = new Date().getUTCFullYear();
/** The body limits of src/api/app.ts. */
const V1_BODY_LIMIT = 16 * 1024;
const CODEC_BODY_LIMIT = 4 * 1024 * 1024;
/** Requests sent concurrently by each run of a property (the machine has two cores). */
const BATCH = 4;
/** Tokens are spread over this many merchants so the per-merchant rate limit (600/min) never answers instead of validation. */
const MERCHANT_POOL = 64;
const ROUTE_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// JSON with tokens JSON.stringify cannot write (-0, 1e309, 9007199254740993, deep nesting)
// ---------------------------------------------------------------------------------------------

/** JSON text inserted as is. */
class Raw {
  constructor(readonly text: string) {}
}
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Raw);

/** Sets an own enumerable property, `__proto__` included (assignment would set the prototype). */
function put(o: Obj, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function serialize(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(serialize).join(',')}]`;
  if (isObj(v)) return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${serialize(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

function clone<T>(v: T): T {
  if (v instanceof Raw || !v || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(clone) as T;
  const o: Obj = {};
  for (const k of Object.keys(v)) put(o, k, clone((v as Obj)[k]));
  return o as T;
}

/** Sets `path` in `root`, replacing whatever is not an object on the way by an object. */
function setAt(root: Obj, keys: readonly string[], value: unknown): void {
  let node = root;
  for (const key of keys.slice(0, -1)) {
    if (!isObj(node[key])) put(node, key, {});
    node = node[key] as Obj;
  }
  put(node, keys[keys.length - 1]!, value);
}

function getAt(root: Obj, keys: readonly string[]): unknown {
  let node: unknown = root;
  for (const key of keys) node = isObj(node) ? node[key] : undefined;
  return node;
}

function deleteAt(root: Obj, keys: readonly string[]): void {
  const parent = getAt(root, keys.slice(0, -1));
  if (isObj(parent)) delete parent[keys[keys.length - 1]!];
}

const preview = (v: unknown, max = 60): string => {
  const text = v === undefined ? 'undefined' : serialize(v);
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
};

// ---------------------------------------------------------------------------------------------
// Value arbitraries
// ---------------------------------------------------------------------------------------------

/** Characters that make trouble: controls, bidi overrides, BOM, lone surrogates, emoji, combining marks, case-folding traps, non-ASCII digits. */
const NASTY_CHARS = ['\u0000', '\u0007', '\u001f', '\u007f', '\u0085', '\u00a0', '\u200b', '\u200f', '\u202e', '\u2066', '\u2028', '\ud800', '\udfff', '\ufeff', '\ufffe', '\uffff', '😀', '👩‍👩‍👧', 'é', 'e\u0301', 'İ', 'ß', 'ſ', '𝟘', '٣', '४', '０', '"', '\\', '\n', '\t', '%', '/', '<', '{', "'"];

const anyText = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.constantFrom(...NASTY_CHARS), maxLength }),
  );

/** Printable latin1: what an HTTP header value can carry. */
const latin1 = (maxLength: number, minLength = 0) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), minLength, maxLength });

const digits = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });

const smallJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 2 });

/** Numbers no amount may be: zero, negative, fractional, too large, beyond double precision or range. */
const INVALID_AMOUNT_TOKENS = ['-0', '0', '-0.0', '-1', '-99999999', '100000000', '99999999.5', '0.5', '1e308', '-1e308', '1e309', '-1e309', '9007199254740993', '-9007199254740993', '123456789012345678901234567890', '1e21', '4.9e-324', '1e-400'];
const invalidAmountToken = fc.constantFrom(...INVALID_AMOUNT_TOKENS).map((t) => new Raw(t));

const nonNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.boolean(),
  fc.constant(null),
  anyText(20),
  fc.constantFrom('100', '1e3', ' 1', '0x10', 'NaN', 'Infinity', '-0', ''),
  fc.array(smallJson, { maxLength: 3 }),
  fc.dictionary(anyText(8), smallJson, { maxKeys: 3 }),
);
const nonString: fc.Arbitrary<unknown> = fc.oneof(
  fc.boolean(),
  fc.constant(null),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  invalidAmountToken,
  fc.array(smallJson, { maxLength: 3 }),
  fc.dictionary(anyText(8), smallJson, { maxKeys: 3 }),
);
const nonObject: fc.Arbitrary<unknown> = fc.oneof(fc.boolean(), fc.constant(null), fc.integer(), invalidAmountToken, anyText(20), fc.array(smallJson, { maxLength: 3 }));
const nonInteger = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d));

/** `depth` nested objects or arrays: a deep value where a scalar belongs. */
const deepValue = fc.tuple(fc.integer({ min: 10, max: 3000 }), fc.boolean()).map(([depth, arrays]) => new Raw(arrays ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

const amountTooBad: fc.Arbitrary<unknown> = fc.oneof(
  invalidAmountToken,
  fc.integer({ max: 0 }),
  fc.integer({ min: 100_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !(Number.isInteger(d) && d >= 1 && d <= 99_999_999)),
  fc.constantFrom(2 ** 53 + 1, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_SAFE_INTEGER),
  nonNumber,
  deepValue,
);
/** Amounts that may be valid: integers in range, also written as 1.0, 1E+2, 0.1e1. */
const amountMaybe: fc.Arbitrary<unknown> = fc.oneof(fc.integer({ min: 1, max: 99_999_999 }), fc.constantFrom('1.0', '1E+2', '0.1e1', '1.5e2', '99999999').map((t) => new Raw(t)));

// ---------------------------------------------------------------------------------------------
// HTTP envelope: token, Content-Type, Content-Encoding, framing
// ---------------------------------------------------------------------------------------------

type AuthKind = { kind: 'valid' } | { kind: 'none' } | { kind: 'noscope' } | { kind: 'readonly' } | { kind: 'tampered' } | { kind: 'raw'; value: string };
type Encoding = 'identity' | 'gzip' | 'gzip-garbage' | 'deflate-garbage' | 'br' | 'unsupported';

interface Envelope {
  auth: AuthKind;
  /** null: no Content-Type header. */
  contentType: string | null;
  encoding: Encoding;
  chunked: boolean;
  requestId?: string;
}

const b64url = (text: string) => Buffer.from(text).toString('base64url');
const badAuth: fc.Arbitrary<AuthKind> = fc.oneof(
  fc.constantFrom<AuthKind>({ kind: 'none' }, { kind: 'noscope' }, { kind: 'readonly' }, { kind: 'tampered' }),
  fc
    .constantFrom(
      'Bearer',
      'Bearer ',
      'bearer',
      'Basic dXNlcjpwYXNz',
      'Token abc',
      'Bearer a.b.c',
      'Bearer a.b',
      'Bearer ....',
      'Bearer x y',
      `Bearer ${b64url('{"alg":"none"}')}.${b64url('{"sub":"m_fuzz","aud":"card-gateway-api","iss":"card-gateway-dev","exp":9999999999}')}.`,
      `Bearer ${b64url('{"alg":"HS256"}')}.${b64url('not json')}.c2ln`,
      `Bearer ${b64url('{"alg":"RS256"}')}.${b64url('{}')}.c2ln`,
      `Bearer ${'A'.repeat(8200)}`, // over the verifier's 8192-character limit
    )
    .map((value): AuthKind => ({ kind: 'raw', value })),
  latin1(200).map((value): AuthKind => ({ kind: 'raw', value })),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,60}\.[A-Za-z0-9_-]{1,60}\.[A-Za-z0-9_-]{0,60}$/).map((jws): AuthKind => ({ kind: 'raw', value: `Bearer ${jws}` })),
);

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8'];
const badContentType: fc.Arbitrary<string | null> = fc.oneof(
  fc.constant(null),
  fc.constantFrom(
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'application/json; charset=latin1',
    'application/json; charset=utf-16',
    'application/json; charset=utf-9',
    'application/json; charset=klingon',
    'application/json; charset',
    'application/vnd.api+json',
    'application/json-patch+json',
    'application/*',
    '*/*',
    'application/',
    ';;;',
    'json',
  ),
  latin1(60),
);

const envelope = (bodyPossible: boolean): fc.Arbitrary<Envelope> =>
  fc.record(
    {
      auth: fc.oneof({ weight: 17, arbitrary: fc.constant<AuthKind>({ kind: 'valid' }) }, { weight: 3, arbitrary: badAuth }),
      contentType: bodyPossible
        ? fc.oneof({ weight: 14, arbitrary: fc.constantFrom<string | null>(...JSON_TYPES) }, { weight: 3, arbitrary: badContentType })
        : fc.constant<string | null>(null),
      encoding: fc.oneof(
        { weight: 40, arbitrary: fc.constant<Encoding>('identity') },
        { weight: 2, arbitrary: fc.constantFrom<Encoding>('gzip', 'gzip-garbage', 'deflate-garbage', 'br', 'unsupported') },
      ),
      chunked: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      requestId: latin1(80),
    },
    { requiredKeys: ['auth', 'contentType', 'encoding', 'chunked'] },
  );

/** Content types the server certainly refuses to read as JSON (malformed ones it may read, or not). */
const NOT_JSON_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/json; charset=latin1', 'application/vnd.api+json', 'application/json-patch+json', 'json'];
/** Could the server read this body as the JSON it is? */
const envelopeReadable = (e: Envelope) => e.contentType !== null && !NOT_JSON_TYPES.includes(e.contentType) && ['identity', 'gzip', 'br'].includes(e.encoding);

type Scope = 'payments:write' | 'payments:read' | 'refunds:write' | 'ops';
const authGrants = (auth: AuthKind, scope: Scope) => auth.kind === 'valid' || (auth.kind === 'readonly' && scope === 'payments:read');

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

interface FuzzRequest {
  /** The route of the route table this request aims at (for the summary). */
  route: string;
  method: string;
  path: string;
  envelope: Envelope;
  /** The body as sent, before any Content-Encoding; undefined: no body. */
  body?: Buffer;
  headers: Record<string, string>;
  /** A 2xx is acceptable: the request may be valid (the fuzzer does not always know). */
  mayBeValid: boolean;
  /** What is wrong with it, for the failure report. */
  note: string;
}

type BodyKind = { kind: 'none' } | { kind: 'json'; text: string; note: string } | { kind: 'bytes'; bytes: Buffer; note: string };

/** Bodies that are not JSON at all, or too large: the same for every route. `sample` is a JSON text of the route's to break. */
const brokenBody = (sample: fc.Arbitrary<string>, limit: number): fc.Arbitrary<BodyKind> =>
  fc.oneof(
    // Truncated: a proper prefix of an object's or array's text is never JSON (a top-level scalar is refused anyway).
    fc.tuple(sample, fc.nat()).map(([text, n]): BodyKind => ({ kind: 'json', text: text.slice(0, n % Math.max(text.length, 1)), note: 'truncated JSON' })),
    sample.map((text): BodyKind => ({ kind: 'json', text: text.replace(/}$/, ',}'), note: 'trailing comma' })),
    sample.map((text): BodyKind => ({ kind: 'json', text: text.replace(/"/g, "'"), note: 'single quotes' })),
    sample.map((text): BodyKind => ({ kind: 'json', text: `/* c */${text}`, note: 'comment' })),
    sample.map((text): BodyKind => ({ kind: 'json', text: `)]}'\n${text}`, note: 'XSSI prefix' })),
    sample.map((text): BodyKind => ({ kind: 'json', text: `${text}${text}`, note: 'two documents' })),
    sample.map((text): BodyKind => ({ kind: 'json', text: `\ufeff${text}`, note: 'BOM' })),
    fc
      .constantFrom('{"amount": NaN}', '{"amount": Infinity}', '{"amount": undefined}', '{amount: 1}', '{"a":1', '[', '"a string"', '42', 'null', 'true', '', '   ', '{"\\ud800": "\\udfff"}', '{"a":"\\u"}', '{"a":"\\x41"}', '\u0000', '{"a":01}', '{"a":.5}', '{"a":+1}', '{"a":0x10}', '{"a":"\t"}', `${'['.repeat(20_000)}`)
      .map((text): BodyKind => ({ kind: 'json', text, note: 'bad JSON' })),
    anyText(200).map((text): BodyKind => ({ kind: 'json', text, note: 'random text' })),
    fc.uint8Array({ maxLength: 300 }).map((bytes): BodyKind => ({ kind: 'bytes', bytes: Buffer.from(bytes), note: 'random bytes' })),
    // Invalid UTF-8 inside a string: a lone surrogate in CESU-8, an overlong '/', a stray continuation byte.
    fc.constantFrom('eda080', 'c0af', '80', 'ff', 'f4908080').map((hex): BodyKind => ({ kind: 'bytes', bytes: Buffer.concat([Buffer.from('{"description":"'), Buffer.from(hex, 'hex'), Buffer.from('"}')]), note: `invalid UTF-8 ${hex}` })),
    // Oversized: just over the limit, or well over it.
    fc
      .oneof(fc.integer({ min: limit - 20, max: limit + 20 }), fc.integer({ min: limit + 1, max: limit * 2 }))
      .map((size): BodyKind => {
        const head = '{"description":"';
        const tail = '"}';
        return { kind: 'json', text: `${head}${'x'.repeat(Math.max(size - head.length - tail.length, 0))}${tail}`, note: `oversized (${size} bytes)` };
      }),
  );

function finish(route: string, method: string, urlPath: string, env: Envelope, body: BodyKind, extra: { headers?: Record<string, string>; mayBeValid: boolean; note: string }): FuzzRequest {
  const bytes = body.kind === 'none' ? undefined : body.kind === 'json' ? Buffer.from(body.text, 'utf8') : body.bytes;
  const notes = [extra.note, body.kind === 'none' ? 'no body' : body.note];
  if (env.auth.kind !== 'valid') notes.push(`auth ${env.auth.kind}`);
  if (bytes && !(env.contentType !== null && JSON_TYPES.includes(env.contentType))) notes.push(`Content-Type ${JSON.stringify(env.contentType)}`);
  if (bytes && env.encoding !== 'identity') notes.push(`Content-Encoding ${env.encoding}`);
  const req: FuzzRequest = { route, method, path: urlPath, envelope: env, body: bytes, headers: extra.headers ?? {}, mayBeValid: extra.mayBeValid, note: notes.filter(Boolean).join('; ') };
  // Counterexamples print as the request, not as a byte array.
  Object.defineProperty(req, fc.toStringMethod, { value: () => `\n${describeRequest(req)}`, enumerable: false });
  return req;
}

// -- POST /v1/payments ---------------------------------------------------------------------------

interface Edit {
  /** The field it changes: a body never gets two edits of one field (two digit changes can make a Luhn-valid number again). */
  field: string;
  note: string;
  apply(body: Obj): void;
}
const edit = (note: string, apply: (body: Obj) => void, field = note): Edit => ({ field, note, apply });

const basePayment = fc.record({ card: fc.constantFrom(...Object.values(TEST_CARDS)), amount: fc.integer({ min: 1, max: 99_999_999 }), currency: fc.constantFrom(...CURRENCIES) }).map(
  ({ card, amount, currency }): Obj => ({ amount, currency, card: { number: card, exp_month: 12, exp_year: CURRENT_YEAR + 3, cvc: card.startsWith('37') ? TEST_CVCS[1] : TEST_CVCS[0] } }),
);

/** Edits that may leave the payment valid. */
const softEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.constantFrom('lower', 'mixed').map((how) =>
    edit(`currency ${how} case`, (b) => {
      const c = getAt(b, ['currency']);
      if (typeof c === 'string') setAt(b, ['currency'], how === 'lower' ? c.toLowerCase() : `${c[0]!.toLowerCase()}${c.slice(1)}`);
    }),
  ),
  fc.constantFrom('automatic', 'manual').map((m) => edit(`capture_method=${m}`, (b) => setAt(b, ['capture_method'], m))),
  anyText(80).map((d) => edit('unicode description', (b) => setAt(b, ['description'], d))),
  fc.dictionary(anyText(10), anyText(30), { maxKeys: 3 }).map((m) => edit('unicode metadata', (b) => setAt(b, ['metadata'], m))),
  fc.array(fc.tuple(fc.nat(), fc.constantFrom(' ', '-')), { minLength: 1, maxLength: 4 }).map((seps) =>
    edit('card.number with separators', (b) => {
      let n = getAt(b, ['card', 'number']);
      if (typeof n !== 'string') return;
      for (const [at, sep] of seps) n = `${(n as string).slice(0, at % (n as string).length)}${sep}${(n as string).slice(at % (n as string).length)}`;
      setAt(b, ['card', 'number'], n);
    }),
  ),
  amountMaybe.map((a) => edit(`amount=${preview(a)}`, (b) => setAt(b, ['amount'], a))),
  fc.integer({ min: 1, max: 12 }).map((m) => edit(`exp_month=${m}`, (b) => setAt(b, ['card', 'exp_month'], m))),
  fc.integer({ min: CURRENT_YEAR + 1, max: CURRENT_YEAR + 5 }).map((y) => edit(`exp_year=${y}`, (b) => setAt(b, ['card', 'exp_year'], y))),
);

const TOP_KEYS = ['amount', 'currency', 'capture_method', 'card', 'description', 'metadata'];
const CARD_KEYS = ['number', 'exp_month', 'exp_year', 'cvc'];
const unknownKey = (known: string[]) =>
  fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'AMOUNT', 'Amount', 'amount ', ' number', 'card.number', '', 'pan', 'cvv', '$where'),
    anyText(20),
  ).filter((k) => !known.includes(k));

/**
 * Edits that always make the payment invalid, whatever the soft edits before them and the hard edits of
 * other fields do: each leaves an invalid value, a missing required field or an unknown key behind.
 */
const hardEdit: fc.Arbitrary<Edit> = fc.oneof(
  amountTooBad.map((v) => edit(`amount=${preview(v)}`, (b) => setAt(b, ['amount'], v), 'amount')),
  fc
    .oneof(anyText(8), fc.constantFrom('US', 'USDD', 'XXX', 'BTC', 'usd ', ' EUR', 'U\u0000SD', '€', 'ＵＳＤ'))
    .filter((c) => !(CURRENCIES as readonly string[]).includes(c.toUpperCase()))
    .map((c) => edit(`currency=${preview(c)}`, (b) => setAt(b, ['currency'], c), 'currency')),
  nonString.map((c) => edit(`currency=${preview(c)}`, (b) => setAt(b, ['currency'], c), 'currency')),
  fc
    .oneof(anyText(12), fc.constantFrom('AUTOMATIC', 'Manual', 'automatic ', 'auto', ''), nonString)
    .filter((m) => m !== 'automatic' && m !== 'manual')
    .map((m) => edit(`capture_method=${preview(m)}`, (b) => setAt(b, ['capture_method'], m), 'capture_method')),
  nonObject.map((c) => edit(`card=${preview(c)}`, (b) => setAt(b, ['card'], c), 'card')),
  // One digit changed: the Luhn check catches every single-digit error, so this is never a card.
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 9 })).map(([at, delta]) =>
    edit('card.number with one digit changed', (b) => {
      const current = getAt(b, ['card', 'number']);
      const number = typeof current === 'string' && /\d/.test(current) ? current : TEST_CARDS.visa;
      const positions = [...number].flatMap((ch, i) => (/\d/.test(ch) ? [i] : []));
      const i = positions[at % positions.length]!;
      setAt(b, ['card', 'number'], `${number.slice(0, i)}${(Number(number[i]) + delta) % 10}${number.slice(i + 1)}`);
    }, 'card.number'),
  ),
  fc
    .oneof(
      digits(0, 11),
      digits(20, 64),
      fc.constantFrom('    ', '----', ' - ', '4242.4242.4242.4242', '4242/4242/4242/4242', '4242_4242_4242_4242', '4242\t4242\t4242\t4242', '4242\u00a04242\u00a04242\u00a04242', '٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢', '４２４２４２４２４２４２４２４２', '424242424242424２', '4242424242424242\u0000', '+4242424242424242', '4242424242424242e0'),
      anyText(40).filter((s) => !/^[\d -]*$/.test(s)),
    )
    .map((n) => edit(`card.number=${preview(n, 20)}`, (b) => setAt(b, ['card', 'number'], n), 'card.number')),
  nonString.map((n) => edit(`card.number=${preview(n)}`, (b) => setAt(b, ['card', 'number'], n), 'card.number')),
  fc
    .oneof(fc.integer({ max: 0 }), fc.integer({ min: 13 }), nonInteger, fc.constantFrom('-0', '0', '13', '1.5', '1e309', '12.5').map((t) => new Raw(t)), nonNumber, deepValue)
    .map((m) => edit(`card.exp_month=${preview(m)}`, (b) => setAt(b, ['card', 'exp_month'], m), 'card.exp_month')),
  fc
    // Below 1000 is not a year, 1000 to last year has expired, beyond twenty years ahead is refused.
    .oneof(fc.integer({ min: -1_000_000, max: CURRENT_YEAR - 1 }), fc.integer({ min: CURRENT_YEAR + 21 }), nonInteger, fc.constantFrom('1e308', '1e309', '-0', '2030.5').map((t) => new Raw(t)), nonNumber)
    .map((y) => edit(`card.exp_year=${preview(y)}`, (b) => setAt(b, ['card', 'exp_year'], y), 'card.exp_year')),
  fc
    // No brand has a CVC of 0, 1, 2 or 5+ digits; 9+ is over the schema's limit.
    .oneof(fc.oneof(digits(0, 2), digits(5, 8), digits(9, 40)), anyText(8).filter((s) => !/^\d+$/.test(s)), fc.constantFrom('٣٣٣', '１２３', '12a', ' 123', '123 ', '-12'), nonString)
    .map((c) => edit(`card.cvc=${preview(c, 12)}`, (b) => setAt(b, ['card', 'cvc'], c), 'card.cvc')),
  fc.constantFrom(['amount'], ['currency'], ['card'], ['card', 'number'], ['card', 'exp_month'], ['card', 'exp_year'], ['card', 'cvc']).map((keys) => edit(`missing ${keys.join('.')}`, (b) => deleteAt(b, keys), keys.join('.'))),
  fc.tuple(fc.boolean(), smallJson).chain(([inCard, value]) =>
    unknownKey(inCard ? CARD_KEYS : TOP_KEYS).map((key) => edit(`unknown key ${preview(key)}${inCard ? ' in card' : ''}`, (b) => setAt(b, inCard ? ['card', key] : [key], value))),
  ),
  fc
    .oneof(fc.tuple(fc.integer({ min: 501, max: 3000 }), fc.constantFrom('x', 'é', '😀', '\u202e', '\u0000', '\ud800')).map(([n, c]) => c.repeat(n)), nonString)
    .map((d) => edit(`description=${preview(d, 20)}`, (b) => setAt(b, ['description'], d), 'description')),
  fc
    .oneof(
      fc.integer({ min: 21, max: 60 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))),
      fc.integer({ min: 41, max: 200 }).map((n) => ({ ['k'.repeat(n)]: 'v' })),
      fc.integer({ min: 501, max: 2000 }).map((n) => ({ k: 'v'.repeat(n) })),
      fc.tuple(anyText(10), nonString).map(([k, v]) => {
        const m: Obj = {};
        put(m, k, v);
        return m;
      }),
      nonObject.filter((v) => v !== undefined),
    )
    .map((m) => edit(`metadata=${preview(m, 40)}`, (b) => setAt(b, ['metadata'], m), 'metadata')),
);

/** The body as the server reads it (body-parser drops a leading BOM); undefined when it is not JSON. */
function parseLikeServer(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\ufeff/, '')) as unknown;
  } catch {
    return undefined;
  }
}

/** A JSON text the server's create route would accept as a payment (it must never be sent). */
function isValidPayment(text: string): boolean {
  const value = parseLikeServer(text);
  if (value === undefined) return false;
  const parsed = createPaymentBody.safeParse(value);
  if (!parsed.success) return false;
  try {
    validateCard(parsed.data.card);
    return true;
  } catch {
    return false;
  }
}

const structuredPayment: fc.Arbitrary<BodyKind> = fc
  .record({
    base: basePayment,
    soft: fc.array(softEdit, { maxLength: 3 }),
    hard: fc.uniqueArray(hardEdit, { minLength: 1, maxLength: 3, selector: (e) => e.field }),
    whole: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.oneof(nonObject, fc.constant('array of payments')) }),
  })
  .map(({ base, soft, hard, whole }): BodyKind => {
    const body = clone(base);
    for (const e of [...soft, ...hard]) e.apply(body);
    const notes = hard.map((e) => e.note);
    if (whole === undefined) return { kind: 'json', text: serialize(body), note: notes.join(', ') };
    if (whole === 'array of payments') return { kind: 'json', text: serialize([body]), note: 'array instead of object' };
    return { kind: 'json', text: serialize(whole), note: `body ${preview(whole)}` };
  });

const idempotencyKey = (counter: () => number): fc.Arbitrary<{ value?: string; ok: boolean }> =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(null).map(() => ({ value: `fuzz-${counter()}`, ok: true })) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constant({ ok: false }),
        fc.constantFrom('', ' ', 'a b', 'key\t1', 'é', 'x'.repeat(256), 'x'.repeat(4000)).map((value) => ({ value, ok: false })),
        latin1(300, 1)
          .filter((k) => !/^[\x21-\x7e]{1,255}$/.test(k))
          .map((value) => ({ value, ok: false })),
      ),
    },
  );

// -- payment ids, queries --------------------------------------------------------------------------

const hexId = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 24, maxLength: 24 }).map((h) => `pay_${h}`);

/** A path segment (already percent-encoded) that is not a payment id. */
const badIdSegment: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).map(encodeURIComponent),
  fc.string({ unit: fc.constantFrom(...NASTY_CHARS.filter((c) => !/[\ud800-\udfff]/.test(c) || c.length > 1)), minLength: 1, maxLength: 30 }).map(encodeURIComponent),
  hexId.chain((id) =>
    fc.constantFrom(
      id.slice(0, -1),
      `${id}0`,
      id.toUpperCase(),
      id.replace('pay_', 'PAY_'),
      id.replace('pay_', ''),
      id.replace(/[0-9a-f]$/, 'g'),
      `%20${id}`,
      `${id}%00`,
      `${id}%0A`,
      `${id}%2F..`,
      `${id}.json`,
      id.replace('_', '%5F'),
    ),
  ),
  fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '.%2e',
    '..%2F..%2F..%2Fetc%2Fpasswd',
    '..%5C..%5Cwindows',
    '%252e%252e',
    'pay_%2e%2e',
    '%00',
    '%0d%0aSet-Cookie:%20x=y',
    '%3Cscript%3E',
    '%24%7Bjndi%3Aldap%3A%2F%2Fx%7D',
    "1'%20OR%20'1'%3D'1",
    '-1',
    '0',
    'null',
    'undefined',
    '__proto__',
    'constructor',
    // Percent-encodings that are not UTF-8: a lone surrogate (CESU-8), an overlong '/', truncated sequences, bad escapes.
    '%ED%A0%80',
    'pay_%ED%BF%BF',
    '%C0%AF',
    '%FF',
    '%E0%A4',
    '%',
    '%zz',
    'pay_%',
  ),
  fc.integer({ min: 100, max: 8000 }).map((n) => 'a'.repeat(n)),
  fc.integer({ min: 30, max: 4000 }).map((n) => `pay_${'0'.repeat(n)}`),
);
const idSegment = fc.oneof({ weight: 3, arbitrary: hexId }, { weight: 7, arbitrary: badIdSegment });

const queryValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PAYMENT_STATUSES),
  fc.constantFrom('0', '-1', '101', '1.5', '1e309', 'NaN', 'Infinity', '', '%20', '0x10', '1e1', '9007199254740993', '100', '1', '%zz', '%', '%E0%A4', '%ED%A0%80', 'CAPTURED', 'captured%00', 'a%26b%3Dc'),
  anyText(20).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))),
  // Cursors: well-formed-looking tokens that are not a page token, and malformed ones.
  fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'), maxLength: 80 }),
  fc.integer({ min: 2001, max: 6000 }).map((n) => 'A'.repeat(n)),
  fc.constantFrom('a+b', 'a/b', 'a=b', 'AAAA%3D%3D'),
);
const queryKey = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('status', 'limit', 'cursor') }, { weight: 2, arbitrary: fc.constantFrom('Status', 'LIMIT', 'limit[]', 'cursor[0]', 'status[x]', 'foo', '', '__proto__', 'constructor', 'toString', 'merchant', 'merchant_id') });
const queryString = fc.array(fc.tuple(queryKey, queryValue), { maxLength: 5 }).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&'));
const junkQuery = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: queryString.map((q) => (q ? `?${q}` : '?')) });

// -- the routes ------------------------------------------------------------------------------------

const jsonBody = (text: string, note: string): BodyKind => ({ kind: 'json', text, note });

function createPaymentRequest(counter: () => number): fc.Arbitrary<FuzzRequest> {
  const sample = structuredPayment.map((b) => (b.kind === 'json' ? b.text : '{}'));
  return fc
    .record({
      env: envelope(true),
      key: idempotencyKey(counter),
      body: fc.oneof({ weight: 14, arbitrary: structuredPayment }, { weight: 4, arbitrary: brokenBody(sample, V1_BODY_LIMIT) }, { weight: 1, arbitrary: fc.constant<BodyKind>({ kind: 'none' }) }),
    })
    .map(({ env, key, body }) =>
      finish('POST /v1/payments', 'POST', '/v1/payments', env, body, {
        headers: key.value === undefined ? {} : { 'Idempotency-Key': key.value },
        mayBeValid: false,
        note: key.ok ? '' : `Idempotency-Key ${preview(key.value ?? null, 20)}`,
      }),
    );
}

function listPaymentsRequest(): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      env: envelope(true),
      query: queryString,
      body: fc.oneof({ weight: 8, arbitrary: fc.constant<BodyKind>({ kind: 'none' }) }, { weight: 1, arbitrary: brokenBody(fc.constant('{"status":"captured"}'), V1_BODY_LIMIT) }),
    })
    .map(({ env, query, body }) => {
      const valid = listQuery.safeParse(querystring.parse(query)).success && authGrants(env.auth, 'payments:read');
      return finish('GET /v1/payments', 'GET', `/v1/payments${query ? `?${query}` : ''}`, env, body, { mayBeValid: valid, note: valid ? 'valid query' : `query ${preview(query, 80)}` });
    });
}

/** The merchant's balance and its transactions: query strings meant for other listings, and bodies on a GET. */
function balanceRequest(urlPath: '/v1/balance' | '/v1/balance_transactions'): fc.Arbitrary<FuzzRequest> {
  const schema = urlPath === '/v1/balance' ? balanceQuery : balanceTransactionsQuery;
  return fc
    .record({
      env: envelope(true),
      query: fc.oneof(queryString, fc.constantFrom('type=charge', 'type=refunds', 'payment=pay_0', 'limit=101', 'cursor=%00', 'payment[]=x')),
      body: fc.oneof({ weight: 8, arbitrary: fc.constant<BodyKind>({ kind: 'none' }) }, { weight: 1, arbitrary: brokenBody(fc.constant('{"type":"charge"}'), V1_BODY_LIMIT) }),
    })
    .map(({ env, query, body }) => {
      const valid = schema.safeParse(querystring.parse(query)).success && authGrants(env.auth, 'payments:read');
      return finish(`GET ${urlPath}`, 'GET', `${urlPath}${query ? `?${query}` : ''}`, env, body, { mayBeValid: valid, note: valid ? 'valid query' : `query ${preview(query, 80)}` });
    });
}

function getPaymentRequest(): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({ env: envelope(true), id: idSegment, query: junkQuery, body: fc.oneof({ weight: 8, arbitrary: fc.constant<BodyKind>({ kind: 'none' }) }, { weight: 1, arbitrary: brokenBody(fc.constant('{}'), V1_BODY_LIMIT) }) })
    .map(({ env, id, query, body }) => finish('GET /v1/payments/{id}', 'GET', `/v1/payments/${id}${query}`, env, body, { mayBeValid: false, note: `id ${preview(id, 40)}` }));
}

/** A day's reconciliation (ops): dates that are not days, and days that never ran (a 404, in the error shape). */
function reconciliationRequest(): fc.Arbitrary<FuzzRequest> {
  const date = fc.oneof(
    fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
    fc.constantFrom('2026-02-30', '2026-13-01', '2026-1-1', '20261201', '2026-12-01T00:00:00Z', '0000-00-00', '-2026-12-01', '%00', '..', 'today'),
    idSegment,
  );
  return fc
    .record({ env: envelope(true), date, query: junkQuery, body: fc.oneof({ weight: 8, arbitrary: fc.constant<BodyKind>({ kind: 'none' }) }, { weight: 1, arbitrary: brokenBody(fc.constant('{}'), V1_BODY_LIMIT) }) })
    .map(({ env, date: d, query, body }) => finish('GET /v1/reconciliation/{date}', 'GET', `/v1/reconciliation/${d}${query}`, env, body, { mayBeValid: false, note: `date ${preview(d, 40)}` }));
}

/** An action on a payment: its body schema's fields, valid or not, and broken bodies. */
function actionRequest(action: 'capture' | 'cancel' | 'refunds' | 'review', counter: () => number): fc.Arbitrary<FuzzRequest> {
  const reason = fc.oneof(anyText(200), fc.integer({ min: 201, max: 3000 }).map((n) => 'r'.repeat(n)), nonString);
  const fields: Record<typeof action, fc.Arbitrary<Obj>> = {
    capture: fc.record({ amount: fc.oneof(amountMaybe, amountTooBad) }, { requiredKeys: [] }),
    cancel: fc.record({ reason }, { requiredKeys: [] }),
    refunds: fc.record({ amount: fc.oneof(amountMaybe, amountTooBad), reason }, { requiredKeys: [] }),
    review: fc.record({ decision: fc.oneof(fc.constantFrom('approve', 'reject', 'APPROVE', 'approved', 'accept', ''), anyText(10), nonString) }, { requiredKeys: [] }),
  };
  const known = { capture: ['amount'], cancel: ['reason'], refunds: ['amount', 'reason'], review: ['decision'] }[action];
  const structured: fc.Arbitrary<BodyKind> = fc
    .tuple(fields[action], fc.option(fc.tuple(unknownKey(known), smallJson), { nil: undefined }), fc.option(nonObject, { nil: undefined, freq: 8 }))
    .map(([body, extra, whole]) => {
      const b = clone(body);
      if (extra) put(b, extra[0], extra[1]);
      return whole !== undefined ? jsonBody(serialize(whole), `body ${preview(whole)}`) : jsonBody(serialize(b), preview(b, 80));
    });
  const sample = structured.map((b) => (b.kind === 'json' ? b.text : '{}'));
  return fc
    .record({
      env: envelope(true),
      id: idSegment,
      body: fc.oneof({ weight: 10, arbitrary: structured }, { weight: 4, arbitrary: brokenBody(sample, V1_BODY_LIMIT) }, { weight: 1, arbitrary: fc.constant<BodyKind>({ kind: 'none' }) }),
      key: action === 'refunds' ? fc.option(idempotencyKey(counter), { nil: undefined }) : fc.constant(undefined),
    })
    .map(({ env, id, body, key }) =>
      finish(`POST /v1/payments/{id}/${action}`, 'POST', `/v1/payments/${id}/${action}`, env, body, {
        headers: key?.value === undefined ? {} : { 'Idempotency-Key': key.value },
        // No payment exists: nothing here can succeed.
        mayBeValid: false,
        note: `id ${preview(id, 40)}`,
      }),
    );
}

const base64Text = fc.base64String({ maxLength: 64 });
const notBase64 = fc.oneof(fc.constantFrom('A', 'AB=', '====', 'QQ==QQ==', ' QQ==', 'QQ==\n', 'Zm9v!', 'Zm9v-_', 'Zm9v\u0000', '😀'), anyText(30), nonString);
const ENCODINGS = ['binary/encrypted', 'json/plain', 'binary/null', 'binary/plain', 'json/protobuf'].map((e) => Buffer.from(e).toString('base64'));

function codecRequest(direction: 'encode' | 'decode'): fc.Arbitrary<FuzzRequest> {
  const metadata = fc.dictionary(fc.oneof(fc.constantFrom('encoding', 'encryption-key-id', 'messageType'), anyText(10)), fc.oneof(base64Text, fc.constantFrom(...ENCODINGS)), { maxKeys: 3 });
  const goodItem = fc.record({ metadata, data: base64Text }, { requiredKeys: [] });
  const badItem: fc.Arbitrary<unknown> = fc.oneof(
    fc.record({ metadata: fc.dictionary(anyText(10), notBase64, { minKeys: 1, maxKeys: 3 }), data: base64Text }, { requiredKeys: ['metadata'] }),
    fc.record({ metadata, data: notBase64 }, { requiredKeys: ['data'] }),
    fc.record({ metadata: nonObject.filter((v) => v !== null), data: base64Text }, { requiredKeys: ['metadata'] }),
    nonObject,
    deepValue,
  );
  const structured: fc.Arbitrary<BodyKind> = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.array(goodItem, { maxLength: 3 }), badItem, fc.nat()).map(([items, bad, at]) => jsonBody(serialize({ payloads: [...items.slice(0, at % (items.length + 1)), bad, ...items.slice(at % (items.length + 1))] }), `bad payload ${preview(bad)}`)) },
    { weight: 2, arbitrary: fc.oneof(nonObject, fc.dictionary(anyText(8), smallJson, { maxKeys: 3 })).map((p) => jsonBody(serialize({ payloads: p }), `payloads=${preview(p)}`)) },
    { weight: 1, arbitrary: fc.oneof(nonObject, fc.dictionary(anyText(8), smallJson, { maxKeys: 3 })).map((b) => jsonBody(serialize(b), `body ${preview(b)}`)) },
    { weight: 1, arbitrary: fc.integer({ min: 1001, max: 1200 }).map((n) => jsonBody(serialize({ payloads: Array.from({ length: n }, () => ({})) }), `${n} payloads`)) },
    // Well-formed, with payloads that are not ours (decode must refuse them) or anything at all (encode may take them).
    { weight: 3, arbitrary: fc.array(goodItem, { minLength: 1, maxLength: 4 }).map((items) => jsonBody(serialize({ payloads: items }), 'well-formed payloads')) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 200_000 }).map((depth) => jsonBody(`{"payloads":${'['.repeat(depth)}${']'.repeat(depth)}}`, `nested ${depth} deep`)) },
  );
  const sample = structured.map((b) => (b.kind === 'json' ? b.text : '{}'));
  return fc
    .record({
      env: envelope(true),
      body: fc.oneof({ weight: 12, arbitrary: structured }, { weight: 4, arbitrary: brokenBody(sample, CODEC_BODY_LIMIT) }, { weight: 1, arbitrary: fc.constant<BodyKind>({ kind: 'none' }) }),
      origin: fc.option(fc.oneof(fc.constant('http://evil.example'), latin1(40)), { nil: undefined }),
    })
    .map(({ env, body, origin }) => {
      let valid = false;
      if (body.kind === 'json' && authGrants(env.auth, 'ops') && envelopeReadable(env)) {
        valid = payloadsBody.safeParse(parseLikeServer(body.text)).success;
      }
      return finish(`POST /codec/${direction}`, 'POST', `/codec/${direction}`, env, body, { headers: origin === undefined ? {} : { Origin: origin }, mayBeValid: valid, note: '' });
    });
}

const PUBLIC_GETS = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs'];
/** Public routes with junk, paths no route has, and methods a route does not answer. */
function otherRequest(): fc.Arbitrary<FuzzRequest> {
  const assetName = fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...DOCS_ASSET_FILES) }, { weight: 12, arbitrary: badIdSegment });
  const target: fc.Arbitrary<{ route: string; method: string; path: string; mayBeValid: boolean }> = fc.oneof(
    // Public GETs with junk query strings: they ignore it.
    fc.tuple(fc.constantFrom(...PUBLIC_GETS.filter((p) => p !== '/readyz')), junkQuery).map(([p, q]) => ({ route: `GET ${p}`, method: 'GET', path: `${p}${q}`, mayBeValid: true })),
    fc.constant({ route: 'GET /readyz', method: 'GET', path: '/readyz', mayBeValid: true }),
    assetName.map((f) => ({ route: 'GET /docs/assets/{file}', method: 'GET', path: `/docs/assets/${f}`, mayBeValid: (DOCS_ASSET_FILES as readonly string[]).includes(f) })),
    // Methods no route answers there.
    fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
        fc.constantFrom('/healthz', '/readyz', '/metrics', '/openapi.json', '/docs', '/docs/assets/docs.js', '/v1/payments', '/v1/payments/{id}', '/v1/payments/{id}/capture', '/v1/payments/{id}/cancel', '/v1/payments/{id}/refunds', '/v1/payments/{id}/review', '/codec/encode', '/codec/decode'),
        idSegment,
      )
      .filter(([m, p]) => {
        const registered: Record<string, string[]> = { '/v1/payments': ['GET', 'POST'], '/v1/payments/{id}': ['GET'], '/codec/encode': ['POST'], '/codec/decode': ['POST'] };
        const allowed = registered[p] ?? (p.startsWith('/v1/payments/{id}/') ? ['POST'] : ['GET']);
        return !allowed.includes(m);
      })
      .map(([m, p, id]) => ({ route: `${m} ${p} (no such route)`, method: m, path: p.replace('{id}', id), mayBeValid: false })),
    // Paths no route has.
    fc
      .tuple(fc.constantFrom('', '/v1', '/v1/payments', '/codec', '/docs', '/v2', '/V1/payments/x'), fc.array(badIdSegment, { minLength: 1, maxLength: 3 }))
      .map(([prefix, segs]) => ({ route: 'unknown path', method: 'GET', path: `${prefix}/${segs.join('/')}/x`, mayBeValid: false })),
    fc.constantFrom('/', '//', '/v1', '/v1/', '/codec', '/codec/', '/codec/encode/x', '/v1//payments', '/v1/payments/pay_0123456789abcdef01234567/', '/v1/payments/pay_0123456789abcdef01234567/refunds/x', '/%2e%2e/%2e%2e/etc/passwd', '/v1/%2e%2e/healthz').map((p) => ({ route: 'unknown path', method: 'GET', path: p, mayBeValid: p.endsWith('/healthz') })),
    // Case and trailing-slash variants Express matches to real routes.
    fc.constantFrom('/V1/PAYMENTS', '/v1/payments/', '/HEALTHZ', '/Docs', '/OPENAPI.JSON').map((p) => ({ route: 'route variants', method: 'GET', path: p, mayBeValid: true })),
    // Preflights.
    fc.constantFrom('/codec/encode', '/codec/decode', '/v1/payments', '/healthz').map((p) => ({ route: `OPTIONS ${p}`, method: 'OPTIONS', path: p, mayBeValid: true })),
  );
  return fc
    .record({ env: envelope(true), target, body: fc.oneof({ weight: 6, arbitrary: fc.constant<BodyKind>({ kind: 'none' }) }, { weight: 1, arbitrary: brokenBody(fc.constant('{"a":1}'), V1_BODY_LIMIT) }) })
    .map(({ env, target: t, body }) => finish(t.route, t.method, t.path, env, body, { mayBeValid: t.mayBeValid, note: '' }));
}

/**
 * Node's HTTP server answers a request whose request line and headers exceed 16 KiB itself (431,
 * empty body) before the application sees it: requests stay under that, with room for header names.
 */
const HEADER_BUDGET = 14_000;
function fitsHeaderLimit(req: FuzzRequest): boolean {
  const auth = req.envelope.auth.kind === 'raw' ? req.envelope.auth.value.length : req.envelope.auth.kind === 'none' ? 0 : 400;
  const others = Object.values(req.headers).reduce((n, v) => n + v.length, 0) + (req.envelope.requestId?.length ?? 0) + (req.envelope.contentType?.length ?? 0);
  return req.path.length + auth + others < HEADER_BUDGET;
}

// ---------------------------------------------------------------------------------------------
// Sending and checking
// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/** Problems of one answer; empty when the answer is acceptable. */
function problemsOf(req: FuzzRequest, answer: Answer, secrets: string[]): string[] {
  const problems: string[] = [];
  if (answer.status >= 500) problems.push(`answered ${answer.status}`);
  const ok = answer.status >= 200 && answer.status < 300;
  if (ok && !req.mayBeValid && req.method !== 'OPTIONS') problems.push(`answered ${answer.status} to an invalid request`);
  if (!ok) {
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      body = undefined;
    }
    const error = isObj(body) ? body.error : undefined;
    if (!/^application\/json\b/.test(answer.contentType)) problems.push(`error answer with Content-Type ${JSON.stringify(answer.contentType)}`);
    if (!isObj(error) || typeof error.type !== 'string' || typeof error.code !== 'string' || typeof error.message !== 'string' || !['string', 'undefined'].includes(typeof error.param)) {
      problems.push('error answer not in the error shape {error: {type, code, message, param?}}');
    }
  }
  // The reference page's static assets are third-party files served as is: not ours to scan.
  const staticAsset = ok && req.route === 'GET /docs/assets/{file}';
  if (!staticAsset) for (const secret of secrets) if (answer.text.includes(secret)) problems.push(`answer contains a test card secret ending ${secret.replace(/"/g, '').slice(-4)}`);
  return problems;
}

function describeRequest(req: FuzzRequest, answer?: Answer): string {
  const body = req.body === undefined ? '(none)' : req.body.length > 300 ? `${JSON.stringify(req.body.subarray(0, 300).toString('utf8'))}…(${req.body.length} bytes)` : JSON.stringify(req.body.toString('utf8'));
  const p = req.path.length > 300 ? `${req.path.slice(0, 300)}…(${req.path.length} chars)` : req.path;
  return [
    `${req.method} ${p}  [${req.route}]`,
    `  what: ${req.note}`,
    `  envelope: ${JSON.stringify({ ...req.envelope, auth: req.envelope.auth.kind === 'raw' ? { kind: 'raw', value: req.envelope.auth.value.slice(0, 80) } : req.envelope.auth })}`,
    `  headers: ${JSON.stringify(req.headers).slice(0, 300)}`,
    `  body: ${body}`,
    ...(answer ? [`  answer: ${answer.status} ${answer.contentType} ${answer.text.slice(0, 300)}`] : []),
  ].join('\n');
}

describe('API fuzzing: malformed requests to every route (real stack)', () => {
  let stack: GatewayStack;
  let port: number;
  let agent: http.Agent;
  const tokens = { valid: [] as string[], noscope: [] as string[], readonly: [] as string[] };
  let tokenTurn = 0;
  let keyCounter = 0;
  const nextKey = () => ++keyCounter;
  const secrets = cardSecrets();
  const stats = { requests: 0, byStatus: new Map<number, number>(), ms: 0 };
  let workflowsBefore = new Set<string>();

  const listWorkflows = async () => {
    const found: { id: string; type: string }[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await stack.stack.client.workflowService.listWorkflowExecutions({ namespace: 'default', pageSize: 1000, nextPageToken });
      for (const e of page.executions ?? []) found.push({ id: `${e.execution?.workflowId}/${e.execution?.runId}`, type: e.type?.name ?? '' });
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return found;
  };

  function headersFor(req: FuzzRequest, body: Buffer | undefined): Record<string, string> {
    const h: Record<string, string> = { ...req.headers };
    const pick = (pool: string[]) => pool[tokenTurn++ % pool.length]!;
    const auth = req.envelope.auth;
    if (auth.kind === 'valid') h.Authorization = `Bearer ${pick(tokens.valid)}`;
    else if (auth.kind === 'noscope') h.Authorization = `Bearer ${pick(tokens.noscope)}`;
    else if (auth.kind === 'readonly') h.Authorization = `Bearer ${pick(tokens.readonly)}`;
    else if (auth.kind === 'tampered') {
      // One character of the signature changed.
      const t = pick(tokens.valid);
      const i = t.lastIndexOf('.') + 10;
      h.Authorization = `Bearer ${t.slice(0, i)}${t[i] === 'A' ? 'B' : 'A'}${t.slice(i + 1)}`;
    } else if (auth.kind === 'raw') h.Authorization = auth.value;
    if (req.envelope.requestId !== undefined) h['X-Request-Id'] = req.envelope.requestId;
    if (body !== undefined) {
      if (req.envelope.contentType !== null) h['Content-Type'] = req.envelope.contentType;
      const encoding = { identity: undefined, gzip: 'gzip', 'gzip-garbage': 'gzip', 'deflate-garbage': 'deflate', br: 'br', unsupported: 'compress' }[req.envelope.encoding];
      if (encoding) h['Content-Encoding'] = encoding;
      if (req.envelope.chunked) h['Transfer-Encoding'] = 'chunked';
      else h['Content-Length'] = String(body.length);
    }
    return h;
  }

  function send(req: FuzzRequest): Promise<Answer> {
    let body = req.body;
    if (body !== undefined) {
      if (req.envelope.encoding === 'gzip') body = zlib.gzipSync(body);
      else if (req.envelope.encoding === 'br') body = zlib.brotliCompressSync(body);
    }
    const headers = headersFor(req, body);
    return new Promise<Answer>((resolve, reject) => {
      // nosemgrep: gateway.express-tainted-sink -- the test's own generated case, sent to the gateway under test on 127.0.0.1
      const r = http.request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      // A reset or timeout before the answer fails the request; once answered, the promise is settled.
      r.on('error', reject);
      r.setTimeout(ROUTE_TIMEOUT_MS, () => r.destroy(new Error(`no answer within ${ROUTE_TIMEOUT_MS} ms`)));
      r.end(body);
    });
  }

  async function exchange(req: FuzzRequest): Promise<void> {
    // The fuzzer's own guarantee: a creation request is never a valid payment.
    if (req.route === 'POST /v1/payments' && req.body !== undefined && isValidPayment(req.body.toString('utf8'))) {
      throw new Error(`the generator produced a valid payment: ${describeRequest(req)}`);
    }
    let answer: Answer;
    try {
      answer = await send(req);
    } catch (err) {
      throw new Error(`no answer (${(err as Error).message}):\n${describeRequest(req)}`);
    }
    stats.requests++;
    stats.byStatus.set(answer.status, (stats.byStatus.get(answer.status) ?? 0) + 1);
    const problems = problemsOf(req, answer, secrets);
    if (problems.length) throw new Error(`${problems.join('; ')}:\n${describeRequest(req, answer)}`);
  }

  beforeAll(async () => {
    stack = await startGatewayStack();
    port = Number(new URL(stack.apiUrl).port);
    agent = new http.Agent({ keepAlive: true, maxSockets: BATCH });
    for (let i = 0; i < MERCHANT_POOL; i++) tokens.valid.push(await stack.token(`m_fuzz_${i}`, ['payments:write', 'payments:read', 'refunds:write', 'ops']));
    for (let i = 0; i < 8; i++) tokens.noscope.push(await stack.token(`m_fuzz_noscope_${i}`, []));
    for (let i = 0; i < 8; i++) tokens.readonly.push(await stack.token(`m_fuzz_readonly_${i}`, ['payments:read']));
    workflowsBefore = new Set((await listWorkflows()).map((w) => w.id));
  }, 120_000);

  afterAll(async () => {
    agent?.destroy();
    if (!stack) return;
    try {
      const byStatus = [...stats.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ');
      console.log(`api-fuzz: ${stats.requests} requests in ${(stats.ms / 1000).toFixed(1)} s (${Math.round(stats.requests / Math.max(stats.ms / 1000, 0.001))}/s); by status: ${byStatus}`);
      // Nothing the fuzzer sent may have put card data in a log (the global teardown scans them all again).
      assertNoCardDataInFiles([stack.api.logFile]);
    } finally {
      await stack.stop();
    }
  }, 120_000);

  /** Requests per route family: ≥ 5,000 in all (about 7,500: some 200 a second once the stack is up). */
  const PLAN: { name: string; requests: number; arbitrary: () => fc.Arbitrary<FuzzRequest> }[] = [
    { name: 'POST /v1/payments', requests: 2400, arbitrary: () => createPaymentRequest(nextKey) },
    { name: 'GET /v1/payments', requests: 700, arbitrary: listPaymentsRequest },
    { name: 'GET /v1/payments/{id}', requests: 600, arbitrary: getPaymentRequest },
    { name: 'GET /v1/balance', requests: 200, arbitrary: () => balanceRequest('/v1/balance') },
    { name: 'GET /v1/balance_transactions', requests: 300, arbitrary: () => balanceRequest('/v1/balance_transactions') },
    { name: 'GET /v1/reconciliation/{date}', requests: 200, arbitrary: reconciliationRequest },
    { name: 'POST /v1/payments/{id}/capture', requests: 540, arbitrary: () => actionRequest('capture', nextKey) },
    { name: 'POST /v1/payments/{id}/cancel', requests: 540, arbitrary: () => actionRequest('cancel', nextKey) },
    { name: 'POST /v1/payments/{id}/refunds', requests: 540, arbitrary: () => actionRequest('refunds', nextKey) },
    { name: 'POST /v1/payments/{id}/review', requests: 540, arbitrary: () => actionRequest('review', nextKey) },
    { name: 'POST /codec/encode', requests: 450, arbitrary: () => codecRequest('encode') },
    { name: 'POST /codec/decode', requests: 450, arbitrary: () => codecRequest('decode') },
    { name: 'public routes, unknown paths, other methods', requests: 760, arbitrary: otherRequest },
  ];

  it('plans at least 5,000 requests', () => {
    expect(PLAN.reduce((n, p) => n + p.requests, 0)).toBeGreaterThanOrEqual(5000);
  });

  it.each(PLAN)('$name: $requests malformed requests, none answered 5xx, every error in the error shape', async ({ requests, arbitrary }) => {
    const started = Date.now();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(arbitrary().filter(fitsHeaderLimit), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
          const results = await Promise.allSettled(batch.map(exchange));
          const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) throw failed.reason;
        }),
        // Shrinking re-sends requests: bounded, so a failure is reported in minutes, not hours.
        { numRuns: Math.ceil(requests / BATCH), interruptAfterTimeLimit: 90_000, markInterruptAsFailure: true },
      );
    } finally {
      stats.ms += Date.now() - started;
    }
  }, 150_000);

  it('sent at least 5,000 requests', () => {
    expect(stats.requests).toBeGreaterThanOrEqual(5000);
  });

  it('left no payment workflow, no vault record and no acquirer movement behind', async () => {
    // Visibility is eventually consistent: give a stray start time to show.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const payments = await stack.stack.client.workflowService.listWorkflowExecutions({ namespace: 'default', query: "WorkflowType = 'paymentWorkflow'" });
    expect(payments.executions ?? []).toHaveLength(0);
    // GET /readyz starts its probe workflow by design; nothing else may have appeared.
    const appeared = (await listWorkflows()).filter((w) => !workflowsBefore.has(w.id) && w.type !== 'readinessWorkflow');
    expect(appeared).toEqual([]);

    const vault = new Database(path.join(stack.stack.dataDir, 'vault.db'), { readonly: true, fileMustExist: true });
    try {
      const count = (table: string) => (vault.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      expect({ card_intakes: count('card_intakes'), cvv_records: count('cvv_records'), cards: count('cards') }).toEqual({ card_intakes: 0, cvv_records: 0, cards: 0 });
    } finally {
      vault.close();
    }
    expect(await stack.sandbox.ledger()).toEqual([]);
  });
});
