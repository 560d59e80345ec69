import { z } from 'zod';
import {
  AcquirerRejectedError,
  AcquirerUnavailableError,
  type AcquirerClient,
  type AuthorizationRequest,
  type AuthorizationResult,
  type CaptureRequest,
  type DeclineCode,
  type Inquiry,
  type MovementResult,
  type ReversalRequest,
  type ReversalResult,
  type RefundRequest,
  type SettleRequest,
  type SettlementReportLine,
  type VoidRequest,
} from './acquirer-client';

/**
 * The acquirer client over HTTP, speaking the acquirer sandbox's API (src/acquirer/sandbox/app.ts).
 *
 * How answers map:
 * - no answer (connection refused, reset, timeout), 5xx, 408, 429 → AcquirerUnavailableError: the
 *   same call, with the same idempotency key, may succeed later;
 * - 402 to an authorization → a declined result, not an error;
 * - any other 4xx → AcquirerRejectedError with the acquirer's error code.
 *
 * Error messages name the operation, the status and the acquirer's code, never the request body:
 * it carries card data. Digit runs as long as a card number are masked even in the acquirer's own
 * messages, in case an acquirer echoes what it received.
 */
export interface HttpAcquirerClientOptions {
  baseUrl: string;
  /** Per call, from sending the request to reading the whole answer. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

const DECLINE_CODES = ['generic_decline', 'insufficient_funds', 'incorrect_cvc', 'expired_card', 'do_not_honor'] as const satisfies readonly DeclineCode[];

const saleCaptureSchema = z.union([
  z.object({ ref: z.string().min(1) }),
  z.object({ error: z.object({ code: z.string().min(1), message: z.string().catch('The capture was refused.') }) }),
]);
const approvedSchema = z.object({ ref: z.string().min(1), status: z.literal('approved'), authorization_code: z.string(), capture: saleCaptureSchema.optional() });
const declinedSchema = z.object({
  ref: z.string().min(1).optional(),
  status: z.literal('declined'),
  // An acquirer's code we do not know is still a decline: the generic one.
  decline_code: z.enum(DECLINE_CODES).catch('generic_decline'),
  message: z.string().catch('The card was declined.'),
});
const movementSchema = z.object({ ref: z.string().min(1) });
const reversalSchema = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('voided'), ref: z.string().min(1) }),
  z.object({ outcome: z.literal('declined') }),
  z.object({ outcome: z.literal('closed') }),
  z.object({ outcome: z.literal('captured'), ref: z.string().min(1) }),
]);
const inquirySchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('not_received') }),
  z.object({ status: z.literal('answered'), operation: z.string(), http_status: z.number().int(), response: z.unknown() }),
]);
const settlementReportSchema = z.object({
  date: z.string(),
  lines: z.array(
    z.object({
      ref: z.string(),
      kind: z.enum(['capture', 'refund', 'settlement']),
      amount: z.number().int(),
      currency: z.string(),
      merchant_id: z.string(),
      idempotency_key: z.string(),
      created_at: z.string(),
    }),
  ),
});
const errorSchema = z.object({ error: z.object({ code: z.string().min(1), message: z.string().optional() }) });

interface Answer {
  status: number;
  body: unknown;
}

export class HttpAcquirerClient implements AcquirerClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(options: HttpAcquirerClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async authorize(request: AuthorizationRequest): Promise<AuthorizationResult> {
    const answer = await this.post('authorize', '/v1/authorizations', request.idempotencyKey, {
      pan: request.pan,
      exp_month: request.expMonth,
      exp_year: request.expYear,
      ...(request.cvc !== undefined ? { cvc: request.cvc } : {}),
      amount: request.amount,
      currency: request.currency,
      merchant_id: request.merchantId,
      ...(request.captureIdempotencyKey !== undefined ? { capture_idempotency_key: request.captureIdempotencyKey } : {}),
    });
    return this.authorizationResult(answer);
  }

  capture(request: CaptureRequest): Promise<MovementResult> {
    return this.movement('capture', `/v1/authorizations/${encodeURIComponent(request.authorizationRef)}/capture`, request.idempotencyKey, {
      amount: request.amount,
    });
  }

  void(request: VoidRequest): Promise<MovementResult> {
    return this.movement('void', `/v1/authorizations/${encodeURIComponent(request.authorizationRef)}/void`, request.idempotencyKey, {});
  }

  refund(request: RefundRequest): Promise<MovementResult> {
    return this.movement('refund', `/v1/captures/${encodeURIComponent(request.captureRef)}/refunds`, request.idempotencyKey, {
      amount: request.amount,
    });
  }

  settle(request: SettleRequest): Promise<MovementResult> {
    return this.movement('settle', `/v1/captures/${encodeURIComponent(request.captureRef)}/settle`, request.idempotencyKey, {});
  }

  async reverseAuthorization(request: ReversalRequest): Promise<ReversalResult> {
    const answer = await this.post('reverse', '/v1/reversals', request.idempotencyKey, { authorization_idempotency_key: request.authorizationKey });
    const reversal = this.parse('reverse', this.successOrThrow('reverse', answer), reversalSchema);
    if (reversal.outcome === 'voided' || reversal.outcome === 'captured') return { outcome: reversal.outcome, acquirerRef: reversal.ref };
    return { outcome: reversal.outcome };
  }

  /** A stored answer is interpreted exactly as the live one would have been. */
  inquireAuthorization(idempotencyKey: string): Promise<Inquiry<AuthorizationResult>> {
    return this.inquire('authorize', idempotencyKey, (answer) => this.authorizationResult(answer));
  }

  inquireMovement(idempotencyKey: string): Promise<Inquiry<MovementResult>> {
    return this.inquire('movement', idempotencyKey, (answer) => this.movementResult('movement', answer));
  }

  async settlementReport(date: string): Promise<SettlementReportLine[]> {
    const call = 'settlement report';
    const answer = await this.send(call, 'GET', `/v1/reports/settlement?date=${encodeURIComponent(date)}`, undefined, undefined);
    const report = this.parse(call, this.successOrThrow(call, answer), settlementReportSchema);
    return report.lines.map((l) => ({ ref: l.ref, kind: l.kind, amount: l.amount, currency: l.currency, merchantId: l.merchant_id, idempotencyKey: l.idempotency_key, createdAt: l.created_at }));
  }

  private async inquire<T>(call: string, idempotencyKey: string, interpret: (answer: Answer) => T): Promise<Inquiry<T>> {
    const answer = await this.send(`inquire ${call}`, 'GET', `/v1/operations/${encodeURIComponent(idempotencyKey)}`, undefined, undefined);
    const inquiry = this.parse(`inquire ${call}`, this.successOrThrow(`inquire ${call}`, answer), inquirySchema);
    if (inquiry.status === 'not_received') return { state: 'not_received' };
    try {
      return { state: 'done', result: interpret({ status: inquiry.http_status, body: inquiry.response }) };
    } catch (err) {
      if (err instanceof AcquirerRejectedError) return { state: 'refused', code: err.code, message: err.message };
      throw err;
    }
  }

  /** 402 is a decline (an answer, not an error); 2xx an approval; anything else per successOrThrow. */
  private authorizationResult(answer: Answer): AuthorizationResult {
    const call = 'authorize';
    if (answer.status === 402) {
      const declined = this.parse(call, answer, declinedSchema);
      return {
        outcome: 'declined',
        ...(declined.ref === undefined ? {} : { acquirerRef: declined.ref }),
        declineCode: declined.decline_code,
        message: maskCardNumbers(declined.message),
      };
    }
    const approved = this.parse(call, this.successOrThrow(call, answer), approvedSchema);
    const result = { outcome: 'approved', acquirerRef: approved.ref, authorizationCode: approved.authorization_code } as const;
    if (approved.capture === undefined) return result;
    const capture =
      'ref' in approved.capture
        ? ({ outcome: 'captured', acquirerRef: approved.capture.ref } as const)
        : ({ outcome: 'refused', code: approved.capture.error.code, message: maskCardNumbers(approved.capture.error.message) } as const);
    return { ...result, capture };
  }

  private async movement(call: string, path: string, idempotencyKey: string, body: object): Promise<MovementResult> {
    return this.movementResult(call, await this.post(call, path, idempotencyKey, body));
  }

  private movementResult(call: string, answer: Answer): MovementResult {
    return { acquirerRef: this.parse(call, this.successOrThrow(call, answer), movementSchema).ref };
  }

  private post(call: string, path: string, idempotencyKey: string, body: object): Promise<Answer> {
    return this.send(call, 'POST', path, idempotencyKey, body);
  }

  private async send(call: string, method: 'GET' | 'POST', path: string, idempotencyKey: string | undefined, body: object | undefined): Promise<Answer> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        // A redirect would resend card data somewhere else: refuse it.
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      throw new AcquirerUnavailableError(`Acquirer ${call} at ${this.baseUrl} did not answer: ${describeFetchFailure(err, this.timeoutMs)}`);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  }

  private successOrThrow(call: string, answer: Answer): Answer {
    const { status } = answer;
    if (status >= 200 && status < 300) return answer;
    const error = errorSchema.safeParse(answer.body);
    const code = error.success ? error.data.error.code : undefined;
    const detail = error.success && error.data.error.message ? `: ${maskCardNumbers(error.data.error.message)}` : '';
    if (status >= 500 || status === 408 || status === 429) {
      throw new AcquirerUnavailableError(`Acquirer ${call} answered ${status}${code ? ` ${code}` : ''}${detail}; retry with the same idempotency key`);
    }
    if (status >= 400) {
      throw new AcquirerRejectedError(code ?? 'acquirer_rejected', `Acquirer refused ${call} (${status}${code ? ` ${code}` : ''})${detail}`);
    }
    // 1xx/3xx reaching here: fetch followed nothing (redirect: 'error'), so this is a protocol fault.
    throw new AcquirerUnavailableError(`Acquirer ${call} answered an unexpected ${status}`);
  }

  private parse<T>(call: string, answer: Answer, schema: z.ZodType<T>): T {
    const result = schema.safeParse(answer.body);
    // A malformed answer may be a proxy or a half-deployed acquirer; retrying the same key is safe.
    if (!result.success) throw new AcquirerUnavailableError(`Acquirer ${call} answered ${answer.status} with a body that is not the expected shape`);
    return result.data;
  }
}

function describeFetchFailure(err: unknown, timeoutMs: number): string {
  const name = (err as { name?: unknown })?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  // undici reports "fetch failed" and the reason in `cause` (ECONNREFUSED, ECONNRESET, ...).
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const reason = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : String((err as Error)?.message ?? err);
  return maskCardNumbers(reason);
}

function maskCardNumbers(text: string): string {
  return text.replace(/\d[\d -]{10,22}\d/g, (run) => (run.replace(/\D/g, '').length >= 12 ? '[REDACTED]' : run));
}
