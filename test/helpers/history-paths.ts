import crypto from 'node:crypto';
import type { History } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';

/**
 * The path a workflow execution took, read from its history: what the workflow did (activities
 * scheduled and how each ended, timers and whether they fired), what reached it from outside
 * (updates accepted, signals, cancellation), and how it closed. Two executions with the same
 * signature exercise the same code path, so one recorded history per signature is enough
 * (docs/replay.md). Nothing run-specific (ids, times, amounts) goes into it: re-recording the
 * same suite gives the same file names.
 */
export interface PathSignature {
  /** Activities, timers, signals and cancellation requests, in history order. */
  steps: string[];
  /**
   * Updates accepted, sorted: when an update arrives relative to the workflow's own commands
   * depends on the test's timing, not on the path (the commands it causes are in `steps`).
   */
  updates: string[];
  /** completed | failed | canceled | terminated | timed_out | continued_as_new | open */
  close: string;
}

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The event's type as the enum's name without its prefix, e.g. `ACTIVITY_TASK_SCHEDULED`. */
function typeOf(event: HistoryEvent): string {
  const raw = event.eventType as unknown;
  const name = typeof raw === 'number' ? EventType[raw] : String(raw ?? '');
  return (name ?? '').replace(/^EVENT_TYPE_/, '');
}

const key = (id: unknown) => String(id ?? '');

/**
 * Bookkeeping beside the payment's path, not part of it: how many record writes a payment makes
 * depends on timing (they coalesce), and would make every run a "new" path.
 */
const BESIDE_THE_PATH = new Set(['recordPayment']);

export function pathSignature(history: History): PathSignature {
  const steps: string[] = [];
  const updates: string[] = [];
  // Where each activity or timer sits in `steps`, so its outcome can be attached to it.
  const activityAt = new Map<string, number>();
  const timerAt = new Map<string, number>();
  let close = 'open';
  const outcome = (at: Map<string, number>, id: unknown, result: string) => {
    const index = at.get(key(id));
    if (index !== undefined) steps[index] = `${steps[index]}=${result}`;
  };

  for (const event of history.events ?? []) {
    switch (typeOf(event)) {
      case 'ACTIVITY_TASK_SCHEDULED': {
        const name = event.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
        if (BESIDE_THE_PATH.has(name)) break;
        activityAt.set(key(event.eventId), steps.length);
        steps.push(`activity:${name}`);
        break;
      }
      case 'ACTIVITY_TASK_COMPLETED':
        outcome(activityAt, event.activityTaskCompletedEventAttributes?.scheduledEventId, 'completed');
        break;
      case 'ACTIVITY_TASK_FAILED':
        outcome(activityAt, event.activityTaskFailedEventAttributes?.scheduledEventId, 'failed');
        break;
      case 'ACTIVITY_TASK_TIMED_OUT':
        outcome(activityAt, event.activityTaskTimedOutEventAttributes?.scheduledEventId, 'timed_out');
        break;
      case 'ACTIVITY_TASK_CANCELED':
        outcome(activityAt, event.activityTaskCanceledEventAttributes?.scheduledEventId, 'canceled');
        break;
      case 'TIMER_STARTED':
        timerAt.set(key(event.eventId), steps.length);
        steps.push('timer');
        break;
      case 'TIMER_FIRED':
        outcome(timerAt, event.timerFiredEventAttributes?.startedEventId, 'fired');
        break;
      case 'TIMER_CANCELED':
        outcome(timerAt, event.timerCanceledEventAttributes?.startedEventId, 'canceled');
        break;
      case 'WORKFLOW_EXECUTION_SIGNALED':
        steps.push(`signal:${event.workflowExecutionSignaledEventAttributes?.signalName ?? '?'}`);
        break;
      case 'WORKFLOW_EXECUTION_CANCEL_REQUESTED':
        steps.push('cancel-requested');
        break;
      case 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED':
        updates.push(event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ?? '?');
        break;
      case 'WORKFLOW_EXECUTION_COMPLETED':
        close = 'completed';
        break;
      case 'WORKFLOW_EXECUTION_FAILED':
        close = 'failed';
        break;
      case 'WORKFLOW_EXECUTION_CANCELED':
        close = 'canceled';
        break;
      case 'WORKFLOW_EXECUTION_TERMINATED':
        close = 'terminated';
        break;
      case 'WORKFLOW_EXECUTION_TIMED_OUT':
        close = 'timed_out';
        break;
      case 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW':
        close = 'continued_as_new';
        break;
    }
  }
  return { steps, updates: updates.sort(), close };
}

/** The signature as one line, e.g. for a failure report. */
export function describeSignature(signature: PathSignature): string {
  const updates = signature.updates.length > 0 ? ` [updates: ${signature.updates.join(', ')}]` : '';
  return `${signature.steps.join(' → ')} ⇒ ${signature.close}${updates}`;
}

/**
 * The file name (without `.json`) of the history recorded for a path: how it closed, a readable
 * digest of its steps, and a hash of the whole signature so two paths never share a name.
 * E.g. `completed--tokenize.checkFraud.authorize.purgeCvv.capturePayment.timer.settlePayment.timer--1a2b3c4d`;
 * a step that did not complete (or fire) carries its outcome, e.g. `capturePayment_failed`.
 */
export function historyFileName(signature: PathSignature): string {
  const hash = crypto.createHash('sha256').update(JSON.stringify(signature)).digest('hex').slice(0, 8);
  const digest = signature.steps
    .map((step) =>
      step
        .replace(/^activity:/, '')
        .replace(/=(completed|fired)$/, '')
        .replace(/=/, '_'),
    )
    .join('.')
    .replace(/[^A-Za-z0-9._-]/g, '_');
  return `${signature.close}--${digest.slice(0, 140)}--${hash}`;
}
