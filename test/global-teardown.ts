import fs from 'node:fs';
import path from 'node:path';
import { cardSecrets } from './helpers/test-cards';

/**
 * The leak scan of every log line the suite produced (DESIGN.md §6): each process a test starts
 * writes to test-output/logs; if any test card number or CVC appears in a log of this run, the
 * run fails.
 */
export default async function globalTeardown(): Promise<void> {
  const dir = path.resolve(__dirname, '..', 'test-output', 'logs');
  if (!fs.existsSync(dir)) return;
  const secrets = cardSecrets();
  const hits: string[] = [];
  const since = Number(process.env.GATEWAY_TEST_RUN_STARTED ?? 0) - 1000;
  const files = fs.readdirSync(dir).filter((f) => fs.statSync(path.join(dir, f)).mtimeMs >= since);
  for (const file of files) {
    const text = fs.readFileSync(path.join(dir, file), 'latin1');
    for (const secret of secrets) if (text.includes(secret)) hits.push(`${file}: a test card secret ending ${secret.slice(-4)}`);
  }
  if (hits.length) throw new Error(`Card data leaked into logs:\n${hits.join('\n')}`);
  console.log(`\nleak scan: ${files.length} log files of this run, no test card number or CVC`);
}
