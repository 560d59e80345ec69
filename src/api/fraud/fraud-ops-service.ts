import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FraudReportResult } from '../../activities/fraud';
import type { AuditLog } from '../../audit/audit-log';
import { TASK_QUEUES } from '../../temporal/task-queues';
import type { fraudReportWorkflow } from '../../workflows/fraud-report';
import { paymentStateQuery } from '../../workflows/payment/definitions';
import type { PaymentState } from '../../workflows/payment/state';
import { ApiError } from '../errors';

/** What POST /v1/fraud/reports answers. */
export interface FraudReportView {
  object: 'fraud_report';
  payment: string;
  /** Whether the card's and merchant's features took the label (false: the payment was never scored). */
  scored: boolean;
  reason: string | null;
  reported_by: string;
  reported_at: string;
}

export interface ReviewItem {
  object: 'review';
  payment: string;
  merchant: string;
  amount: number;
  currency: string;
  created: string;
  deadline: string | null;
  fraud: {
    decision: 'approve' | 'review' | 'decline';
    score: number | null;
    model_version: string | null;
    reasons: { rule: string; detail: string }[];
    explanations: { code: string; detail: string; contribution: number }[];
  };
}

/** How long POST /v1/fraud/reports waits for the fraud worker. */
const REPORT_WAIT_MS = 10_000;

/** The review queue is small (at most the review budget of a deadline's worth of payments); beyond this, refuse to guess. */
const MAX_QUEUE = 10_000;

/**
 * The operations' fraud routes over Temporal: reports go to the fraud worker through a short
 * workflow (the fraud worker owns the feature store; the API never writes it), and the review queue
 * is read from the payments themselves (visibility: status `requires_review`; each payment's state for
 * its score, reasons and deadline).
 */
export class FraudOpsService {
  constructor(
    private readonly client: Client,
    private readonly audit: AuditLog,
  ) {}

  async report(paymentId: string, reason: string | undefined, operator: string): Promise<{ created: boolean; report: FraudReportView }> {
    const payment = this.client.workflow.getHandle(paymentId);
    try {
      await payment.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found_error', 'payment_not_found', `No payment ${paymentId}`, 'payment');
      throw err;
    }
    const run = this.client.workflow.execute<typeof fraudReportWorkflow>('fraudReportWorkflow', {
      workflowId: `fraud-report-${paymentId}`,
      taskQueue: TASK_QUEUES.payments,
      // Two reports racing share one run; a report after the first completed runs again and finds it.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowExecutionTimeout: '2 minutes',
      args: [{ paymentId, reportedBy: operator, ...(reason ? { reason } : {}) }],
    });
    // The fraud worker down: answer in bounded time. The report may still be recorded; repeating it is safe.
    run.catch(() => undefined); // a late failure after the timeout is nobody's to handle
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      run,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ApiError(503, 'api_error', 'fraud_unavailable', 'The fraud worker did not record the report in time; repeat the same request (reports are idempotent)')),
          REPORT_WAIT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const created = result.status === 'recorded';
    if (created) await this.audit.append({ actor: operator, action: 'fraud.report', paymentId, outcome: 'success', details: { scored: result.scored } });
    return { created, report: reportView(result) };
  }

  async listReviews(limit: number, cursor: string | undefined): Promise<{ object: 'list'; data: ReviewItem[]; has_more: boolean; next_cursor: string | null }> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const waiting: { id: string; created: number }[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await this.client.workflowService.listWorkflowExecutions({
        namespace: this.client.options.namespace,
        query: `WorkflowType = 'paymentWorkflow' AND PaymentStatus = 'requires_review' AND ExecutionStatus = 'Running'`,
        pageSize: 1000,
        nextPageToken,
      });
      for (const e of page.executions ?? []) {
        const id = e.execution?.workflowId;
        if (!id) continue;
        const seconds = Number(e.startTime?.seconds ?? 0);
        waiting.push({ id, created: seconds * 1000 + Math.floor((e.startTime?.nanos ?? 0) / 1e6) });
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
      if (waiting.length > MAX_QUEUE) throw new ApiError(503, 'api_error', 'review_queue_too_large', `More than ${MAX_QUEUE} payments wait for review; decide the oldest first`);
    } while (nextPageToken);

    // Oldest first, ties by id: a stable order the cursor (created, id) continues exactly.
    waiting.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const rest = after ? waiting.filter((w) => w.created > after.created || (w.created === after.created && w.id > after.id)) : waiting;
    const page = rest.slice(0, limit);
    const states = await Promise.all(page.map((w) => this.client.workflow.getHandle(w.id).query(paymentStateQuery).catch(() => undefined)));
    const data = states.flatMap((state) => (state && state.status === 'requires_review' ? [reviewItem(state)] : []));
    const last = page[page.length - 1];
    const hasMore = rest.length > page.length;
    return { object: 'list', data, has_more: hasMore, next_cursor: hasMore && last ? encodeCursor(last) : null };
  }
}

function reportView(result: FraudReportResult): FraudReportView {
  return {
    object: 'fraud_report',
    payment: result.paymentId,
    scored: result.scored,
    reason: result.reason ?? null,
    reported_by: result.reportedBy,
    reported_at: result.reportedAt,
  };
}

function reviewItem(state: PaymentState): ReviewItem {
  const fraud = state.fraud;
  return {
    object: 'review',
    payment: state.id,
    merchant: state.merchantId,
    amount: state.amount,
    currency: state.currency,
    created: state.createdAt,
    deadline: fraud?.reviewDeadline ?? null,
    fraud: {
      decision: fraud?.decision ?? 'review',
      score: fraud?.score ?? null,
      model_version: fraud?.modelVersion ?? null,
      reasons: fraud?.reasons ?? [],
      explanations: fraud?.explanations ?? [],
    },
  };
}

function encodeCursor(position: { id: string; created: number }): string {
  return Buffer.from(JSON.stringify({ c: position.created, i: position.id })).toString('base64url');
}

function decodeCursor(cursor: string): { id: string; created: number } {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { c?: unknown; i?: unknown };
    if (typeof parsed.c === 'number' && Number.isFinite(parsed.c) && typeof parsed.i === 'string' && /^pay_[a-f0-9]{24}$/.test(parsed.i)) {
      return { created: parsed.c, id: parsed.i };
    }
  } catch {
    // falls through to the refusal
  }
  throw new ApiError(400, 'invalid_request_error', 'invalid_cursor', 'cursor must be the next_cursor of a previous page of this listing', 'cursor');
}
