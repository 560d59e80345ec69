import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING, EncryptionCodec } from '../../src/temporal/payload-codec';
import type { KeyProvider } from '../../src/vault/keys/key-provider';
import { findCardSecrets, findCardSecretsInSqliteCells } from './card-secret-scan';
import { cardSecrets } from './test-cards';

/**
 * Leak scans (DESIGN.md §3, invariants 1–2): no test card number or CVC in Temporal's histories or
 * in the processes' logs. Failures name where the secret was found and only its last four
 * characters, so the report itself does not repeat card data.
 */

export interface HistoryScanReport {
  /** Workflow executions whose history was read. */
  workflows: number;
  events: number;
  /** Payloads found in the histories, and how many of them were encrypted and decoded with the codec. */
  payloads: number;
  decoded: number;
}

/** Every payload in a history, wherever it sits in the event tree (inputs, results, failures, headers, search attributes). */
export function payloadsIn(node: unknown, found: Payload[] = [], seen = new Set<unknown>()): Payload[] {
  if (!node || typeof node !== 'object' || seen.has(node) || ArrayBuffer.isView(node)) return found;
  seen.add(node);
  const candidate = node as Payload;
  if (candidate.metadata && typeof candidate.metadata === 'object' && 'encoding' in candidate.metadata) {
    found.push(candidate);
    return found;
  }
  for (const value of Object.values(node)) payloadsIn(value, found, seen);
  return found;
}

/**
 * A history as JSON, bytes as base64 and 64-bit integers as JSON numbers. protobufjs's own toJSON
 * writes every int64 as a quoted string, so a history whose `historySizeBytes` happened to be 7319
 * read as the quoted four-digit test CVC (CI, stop 21): a counter is a number, and a CVC a string.
 */
export function historyJson(history: temporal.api.history.v1.IHistory | null | undefined): string {
  if (!history) return '';
  const plain = temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: Number, enums: String, bytes: String, json: true });
  return jsonWithBase64(plain);
}

/** JSON of a protobuf message (or anything) with every byte array as base64, whatever the message's own toJSON does. */
function jsonWithBase64(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    // A Buffer that went through its own toJSON: { type: 'Buffer', data: [...] }.
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return Buffer.from((v as { data: number[] }).data).toString('base64');
    }
    return v;
  });
}

const latin1 = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('latin1') : '');

/** Every form a test card number or CVC could take (./card-secret-scan.ts); `secrets` adds exact strings to look for. */
function findSecrets(text: string, where: string, secrets: string[], hits: string[]): void {
  for (const hit of findCardSecrets(text)) hits.push(`${where}: ${hit}`);
  for (const secret of secrets) if (text.includes(secret)) hits.push(`${where}: a test card secret ending ${secret.replace(/"/g, '').slice(-4)}`);
}

/**
 * Reads the history of every workflow execution in the namespace and fails if a test card number
 * or CVC appears in it: in the history as JSON (bytes as base64), in each payload's raw bytes
 * (metadata and data, as latin1), and, since payloads are encrypted, in each payload decoded
 * with the gateway's codec.
 */
export async function assertNoCardDataInHistories(client: Client, keys: KeyProvider, namespace = 'default'): Promise<HistoryScanReport> {
  const secrets = cardSecrets();
  const codec = new EncryptionCodec(keys);
  const hits: string[] = [];
  const report: HistoryScanReport = { workflows: 0, events: 0, payloads: 0, decoded: 0 };

  const executions: { workflowId: string; runId: string }[] = [];
  let listToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listWorkflowExecutions({ namespace, pageSize: 1000, nextPageToken: listToken });
    for (const info of page.executions ?? []) {
      if (info.execution?.workflowId && info.execution.runId) executions.push({ workflowId: info.execution.workflowId, runId: info.execution.runId });
    }
    listToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (listToken);

  for (const execution of executions) {
    const where = `workflow ${execution.workflowId} (run ${execution.runId})`;
    let historyToken: Uint8Array | undefined;
    do {
      const page = await client.workflowService.getWorkflowExecutionHistory({ namespace, execution, nextPageToken: historyToken, maximumPageSize: 1000 });
      report.events += page.history?.events?.length ?? 0;
      findSecrets(historyJson(page.history), `${where}, history JSON`, secrets, hits);

      const payloads = payloadsIn(page.history);
      report.payloads += payloads.length;
      for (const payload of payloads) {
        const raw = [...Object.values(payload.metadata ?? {}).map((v) => latin1(v)), latin1(payload.data)].join('\n');
        findSecrets(raw, `${where}, raw payload bytes`, secrets, hits);
      }
      const encrypted = payloads.filter((p) => Buffer.from(p.metadata?.encoding ?? []).toString() === ENCRYPTED_ENCODING);
      if (encrypted.length > 0) {
        const decoded = await codec.decode(encrypted);
        report.decoded += decoded.length;
        for (const payload of decoded) {
          const text = [
            ...Object.entries(payload.metadata ?? {}).map(([k, v]) => `${k}=${Buffer.from(v ?? []).toString('utf8')}`),
            Buffer.from(payload.data ?? []).toString('utf8'),
          ].join('\n');
          findSecrets(text, `${where}, decoded payload`, secrets, hits);
        }
      }
      historyToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (historyToken);
    report.workflows += 1;
  }

  if (hits.length > 0) throw new Error(`Card data found in Temporal histories:\n${[...new Set(hits)].join('\n')}`);
  return report;
}

/**
 * Fails if a test card number or CVC appears in any of the files, in any form (read as latin1, so
 * any byte sequence is searched; SQLite files cell by cell as well, ./card-secret-scan.ts).
 */
export function assertNoCardDataInFiles(paths: string[]): { files: number; bytes: number } {
  const secrets = cardSecrets();
  const hits: string[] = [];
  let bytes = 0;
  for (const file of paths) {
    const text = fs.readFileSync(file, 'latin1');
    bytes += text.length;
    findSecrets(text, path.basename(file), secrets, hits);
    if (/\.(db|sqlite|sqlite3)$/.test(file)) for (const hit of findCardSecretsInSqliteCells(file)) hits.push(`${path.basename(file)}: ${hit}`);
  }
  if (hits.length > 0) throw new Error(`Card data found in files:\n${hits.join('\n')}`);
  return { files: paths.length, bytes };
}
