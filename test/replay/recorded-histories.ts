import fs from 'node:fs';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import { historyFromJSON } from '../helpers/history-json';

/** The committed histories of today's release (docs/replay.md); `npm run histories:record` rewrites them. */
export const HISTORIES_DIR = path.join(__dirname, 'histories');
/**
 * Histories of the first release (requests as updates), frozen: never re-recorded, replayed for
 * as long as payments it started may still be running (their refund window: 180 days).
 */
export const FIRST_RELEASE_DIR = path.join(__dirname, 'histories-first-release');
/**
 * Histories of the release before payment records (requests as signals, no record keeper), frozen
 * likewise: payments it started run without records (src/workflows/payment/patches.ts).
 */
export const BEFORE_RECORDS_DIR = path.join(__dirname, 'histories-before-records');

/**
 * Histories of the release before the vault destroyed the CVV with the authorization's answer
 * (a purge activity after every authorization), frozen likewise (patch cvv-purged-in-authorization-v1).
 */
export const BEFORE_CVV_IN_AUTHORIZATION_DIR = path.join(__dirname, 'histories-before-cvv-in-authorization');

/**
 * Histories of the release before sales (automatic capture as a separate capture call after the
 * authorization), frozen likewise: payments it started never ask for a sale (patch sale-v1).
 */
export const BEFORE_SALES_DIR = path.join(__dirname, 'histories-before-sales');

export interface RecordedHistory {
  /** The file's name, e.g. `completed--tokenize.checkFraud…--1a2b3c4d.json`. */
  file: string;
  /** Its directory and name without `.json` (unique across the directories): the workflow id it is replayed under. */
  workflowId: string;
  json: string;
  history: History;
}

/**
 * Every recorded history, sorted by file name. Throws if there is none: a replay test that
 * replays nothing cannot fail, so an empty (or missing) directory is an error, not a pass.
 */
export function recordedHistories(dirs: string[] = [HISTORIES_DIR, BEFORE_SALES_DIR, BEFORE_CVV_IN_AUTHORIZATION_DIR, BEFORE_RECORDS_DIR, FIRST_RELEASE_DIR]): RecordedHistory[] {
  return dirs.flatMap((dir) => recordedHistoriesIn(dir));
}

function recordedHistoriesIn(dir: string): RecordedHistory[] {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  if (files.length === 0) {
    throw new Error(`No recorded histories in ${dir}: run \`npm run histories:record\` and commit the files (docs/replay.md)`);
  }
  return files.map((file) => {
    const json = fs.readFileSync(path.join(dir, file), 'utf8');
    let history: History;
    try {
      history = historyFromJSON(JSON.parse(json));
    } catch (err) {
      throw new Error(`${file} is not a history in the SDK's JSON form: ${(err as Error).message}`);
    }
    return { file: path.join(path.basename(dir), file), workflowId: path.join(path.basename(dir), file.replace(/\.json$/, '')), json, history };
  });
}
