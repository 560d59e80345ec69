import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import { historyToJSON } from './history-json';
import { temporal } from '@temporalio/proto';
import { payloadsIn } from './leak-scan';
import { historyFileName, pathSignature } from './history-paths';
import { isEncrypted, scanHistoryJson } from './history-scan';

/** Names the directory histories are recorded into; unset, nothing is recorded. */
export const RECORD_HISTORIES_ENV = 'RECORD_HISTORIES';

/** The workflow type whose histories are recorded for the replay tests. */
const RECORDED_WORKFLOW_TYPE = 'paymentWorkflow';

export interface RecordingSummary {
  /** Executions whose history was read. */
  executions: number;
  /** Files this recorder wrote. */
  written: string[];
  /** Executions whose path was already recorded (by this recorder, or by another test file into the same directory). */
  duplicates: number;
  /** Executions still open when the recording ran: skipped, their path is not finished. */
  open: number;
}

/**
 * Records the histories of the payment workflows a test environment ran, for the replay tests
 * (docs/replay.md): one file per distinct path (see history-paths.ts), every payload decoded
 * through the gateway codec first so the file needs no key, and the file refused if it carries
 * anything that looks like card data. Several test files may record into one directory at once:
 * a file is created exclusively, so the first execution of a path wins and the others are
 * counted as duplicates.
 */
export class HistoryRecorder {
  private readonly executions: { workflowId: string; runId?: string }[] = [];

  constructor(
    readonly dir: string,
    private readonly client: Client,
    private readonly codec: PayloadCodec,
    private readonly namespace = 'default',
  ) {}

  /** A recorder when `RECORD_HISTORIES` is set, else undefined. */
  static fromEnv(client: Client, codec: PayloadCodec): HistoryRecorder | undefined {
    const dir = process.env[RECORD_HISTORIES_ENV];
    return dir ? new HistoryRecorder(path.resolve(dir), client, codec) : undefined;
  }

  /** Remembers an execution to record; call it for every workflow the environment starts. */
  track(workflowId: string, runId?: string): void {
    this.executions.push({ workflowId, runId });
  }

  async record(): Promise<RecordingSummary> {
    fs.mkdirSync(this.dir, { recursive: true });
    const summary: RecordingSummary = { executions: 0, written: [], duplicates: 0, open: 0 };
    for (const execution of this.executions) {
      const history = await this.fetchHistory(execution);
      summary.executions += 1;
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      if (started?.workflowType?.name !== RECORDED_WORKFLOW_TYPE) continue;
      const signature = pathSignature(history);
      if (signature.close === 'open') {
        summary.open += 1;
        continue;
      }
      await this.decodePayloads(history, execution.workflowId);

      const name = historyFileName(signature);
      const json = `${historyToJSON(history)}\n`;
      const scan = scanHistoryJson(json, `history of ${execution.workflowId}`);
      if (scan.problems.length > 0) throw new Error(`Refusing to record a history with card data or encrypted payloads:\n${scan.problems.join('\n')}`);
      try {
        fs.writeFileSync(path.join(this.dir, `${name}.json`), json, { flag: 'wx' });
        summary.written.push(`${name}.json`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        summary.duplicates += 1;
      }
    }
    return summary;
  }

  private async fetchHistory(execution: { workflowId: string; runId?: string }): Promise<History> {
    const events: temporal.api.history.v1.IHistoryEvent[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await this.client.workflowService.getWorkflowExecutionHistory({
        namespace: this.namespace,
        execution,
        nextPageToken,
        maximumPageSize: 1000,
      });
      events.push(...(page.history?.events ?? []));
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return { events };
  }

  private async decodePayloads(history: History, workflowId: string): Promise<void> {
    await decodeHistoryPayloads(history, this.codec, workflowId);
  }
}

/** Replaces every encrypted payload of the history, in place, by its plaintext. */
export async function decodeHistoryPayloads(history: History, codec: PayloadCodec, workflowId: string): Promise<void> {
  const encrypted = payloadsIn(history).filter(isEncrypted);
  const decoded = await codec.decode(encrypted);
  encrypted.forEach((payload, i) => {
    payload.metadata = decoded[i]!.metadata ?? {};
    payload.data = decoded[i]!.data ?? new Uint8Array();
  });
  const left = payloadsIn(history).filter(isEncrypted).length;
  if (left > 0) throw new Error(`${left} payload(s) of ${workflowId} are still encrypted after decoding (encrypted twice?)`);
}
