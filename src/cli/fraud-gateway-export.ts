/**
 * `node dist/cli/fraud-gateway-export.js --output <file.csv>`: the gateway's own scored payments and
 * fraud reports (DATABASE_URL, else SQLite under DATA_DIR) as rows in the shared data's format, for
 * `npm run fraud:train -- --from-gateway`. CUSTOMER_ID is the internal card key and TERMINAL_ID the
 * merchant: identifiers that stay in the training folder (data/, never committed). A payment counts as
 * fraud when it was reported; in the replay its label then counts 7 days after it, as for the shared data.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadEnv } from '../config/env';
import { FraudStore } from '../fraud/fraud-store';
import { CSV_HEADER } from '../fraud/replay';
import { openDb } from '../storage/open-db';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { output: { type: 'string' } } });
  if (!values.output) throw new Error('usage: fraud-gateway-export --output <file.csv>');
  const env = loadEnv();
  const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
  const store = new FraudStore(db).features;
  const out = fs.openSync(values.output, 'w');
  fs.writeSync(out, `${CSV_HEADER.join(',')}\n`);
  let after = { at: -1, paymentId: '' };
  let rows = 0;
  let frauds = 0;
  try {
    for (;;) {
      const page = await store.listScores(after, 10_000);
      if (page.length === 0) break;
      let text = '';
      for (const s of page) {
        const fraud = s.reportedAt !== undefined ? 1 : 0;
        frauds += fraud;
        text += `${rows++},${new Date(s.scoredAt).toISOString()},${s.cardKey},${s.merchantId},${(s.amount / 100).toFixed(2)},${fraud}\n`;
      }
      fs.writeSync(out, text);
      const last = page[page.length - 1]!;
      after = { at: last.scoredAt, paymentId: last.paymentId };
      if (page.length < 10_000) break;
    }
  } finally {
    fs.closeSync(out);
    await db.close();
  }
  process.stderr.write(`fraud-gateway-export: ${rows} payments, ${frauds} reported as fraud -> ${values.output}\n`);
  if (rows === 0) throw new Error('the gateway has no scored payments to train on');
}

main().catch((err: Error) => {
  console.error(`fraud-gateway-export failed: ${err.message}`);
  process.exitCode = 1;
});
