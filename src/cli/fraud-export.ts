/**
 * `node dist/cli/fraud-export.js --input <csv|csv.gz> --output <dir>`: replays the transactions
 * through the TypeScript feature pipeline (src/fraud/features.ts, the live worker's) and writes what
 * the trainer (ml/train.py) learns from, so features have one implementation:
 *
 *   <dir>/features.f64    float64 little-endian, row-major: row index, epoch ms, card index, label, then
 *                         the features in FEATURE_NAMES order (exact values: no text round trip)
 *   <dir>/features.json   column names, row count, the input file, and the card ids of the card indexes
 *
 * Called by `npm run fraud:train`; not an API.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FEATURE_NAMES } from '../fraud/features';
import { ReplayFeatures, readTransactions } from '../fraud/replay';

const PREFIX = ['row', 'at_ms', 'card', 'label'] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { input: { type: 'string' }, output: { type: 'string' } } });
  if (!values.input || !values.output) throw new Error('usage: fraud-export --input <csv|csv.gz> --output <dir>');
  fs.mkdirSync(values.output, { recursive: true });
  const width = PREFIX.length + FEATURE_NAMES.length;
  const out = fs.openSync(path.join(values.output, 'features.f64'), 'w');
  const chunkRows = 8192;
  const chunk = new Float64Array(chunkRows * width);
  let inChunk = 0;
  let rows = 0;
  const cards = new Map<string, number>();
  const replay = new ReplayFeatures();
  const started = Date.now();
  for await (const row of readTransactions(values.input)) {
    if (row.fraud === undefined) throw new Error(`${values.input}:${row.line}: training needs a label (TX_FRAUD is empty)`);
    let card = cards.get(row.customer);
    if (card === undefined) cards.set(row.customer, (card = cards.size));
    const features = replay.features(row);
    const base = inChunk * width;
    chunk[base] = rows;
    chunk[base + 1] = row.at;
    chunk[base + 2] = card;
    chunk[base + 3] = row.fraud;
    chunk.set(features, base + PREFIX.length);
    rows++;
    if (++inChunk === chunkRows) {
      fs.writeSync(out, Buffer.from(chunk.buffer));
      inChunk = 0;
    }
    if (rows % 200_000 === 0) process.stderr.write(`fraud-export: ${rows} rows (${Math.round(rows / ((Date.now() - started) / 1000))} rows/s)\n`);
  }
  if (inChunk > 0) fs.writeSync(out, Buffer.from(chunk.buffer, 0, inChunk * width * 8));
  fs.closeSync(out);
  const meta = { columns: [...PREFIX, ...FEATURE_NAMES], features: FEATURE_NAMES, rows, input: path.resolve(values.input), cards: [...cards.keys()] };
  fs.writeFileSync(path.join(values.output, 'features.json'), JSON.stringify(meta));
  process.stderr.write(`fraud-export: ${rows} rows, ${cards.size} cards, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

main().catch((err: Error) => {
  console.error(`fraud-export failed: ${err.message}`);
  process.exitCode = 1;
});
