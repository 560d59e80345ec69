import fs from 'node:fs';
import path from 'node:path';
import { findCardSecrets, findCardSecretsInFiles, sqliteFilesUnder } from './helpers/card-secret-scan';

/**
 * The leak scan of the run (DESIGN.md §6): every log line the suite's processes wrote to
 * test-output/logs, and every SQLite file (with its -wal) left under test-output, searched for the
 * test card numbers and CVCs in any form they could be stored in — bare, hex, base64, JSON — and
 * the databases cell by cell (./helpers/card-secret-scan.ts). The stacks' own data directories
 * are scanned the same way before they are deleted (test/helpers/dev-stack.ts, lifecycle-env.ts).
 * Any hit fails the run.
 */
export default async function globalTeardown(): Promise<void> {
  const root = path.resolve(__dirname, '..', 'test-output');
  const dir = path.join(root, 'logs');
  const since = Number(process.env.GATEWAY_TEST_RUN_STARTED ?? 0) - 1000;
  const ofThisRun = (file: string) => fs.statSync(file).mtimeMs >= since;
  const logs = fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile() && ofThisRun(f)) : [];
  const hits: string[] = [];
  for (const file of logs) {
    for (const hit of findCardSecrets(fs.readFileSync(file, 'latin1'))) hits.push(`${path.basename(file)}: ${hit}`);
  }
  const databases = sqliteFilesUnder(root).filter(ofThisRun);
  hits.push(...findCardSecretsInFiles(databases));
  if (hits.length) throw new Error(`Card data leaked into logs or database files:\n${hits.join('\n')}`);
  console.log(`\nleak scan: ${logs.length} log files and ${databases.length} database files of this run scanned for the test card numbers and CVCs in every form: clean`);
}
