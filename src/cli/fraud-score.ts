/**
 * `npm run --silent fraud:score -- --input <file.csv|file.csv.gz> --output <file.csv> [--model <artifact.json>]`
 *
 * The replay contract an outside evaluation uses: reads rows in the shared data's format
 * (TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD; TX_FRAUD may be empty) in time
 * order, runs each through the feature pipeline and model the live worker uses (terminal = merchant,
 * customer = card; a fraud label counts 7 days after its transaction) and writes TRANSACTION_ID,SCORE
 * for every row. Progress goes to stderr on long inputs; a malformed file stops with a message naming
 * the line (exit 1), and no partial output is left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FEATURE_NAMES } from '../fraud/features';
import { FraudModel, defaultModelFile } from '../fraud/model';
import { MalformedInputError, ReplayFeatures, readTransactions } from '../fraud/replay';

const BATCH = 256;

const USAGE = 'usage: npm run --silent fraud:score -- --input <file.csv|file.csv.gz> --output <file.csv> [--model <artifact.json>] [--quiet]';

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { input: { type: 'string' }, output: { type: 'string' }, model: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.input || !values.output) {
    console.error(USAGE);
    return 2;
  }
  if (!fs.existsSync(values.input)) {
    console.error(`fraud:score: no such file ${values.input}`);
    return 1;
  }
  const model = FraudModel.load(values.model ?? defaultModelFile());
  const replay = new ReplayFeatures();
  const temporary = path.join(path.dirname(path.resolve(values.output)), `.${path.basename(values.output)}.${process.pid}.partial`);
  const out = fs.openSync(temporary, 'w');
  let buffer = 'TRANSACTION_ID,SCORE\n';
  let rows = 0;
  const started = Date.now();
  let lastProgress = started;
  // Features are computed row by row (each row changes the states the next one reads); scores, which
  // change nothing, in batches (FraudModel.scoreBatch: the same numbers, twice as fast).
  const width = FEATURE_NAMES.length;
  const batch = new Float64Array(BATCH * width);
  const scores = new Float64Array(BATCH);
  const ids: string[] = [];
  const flush = () => {
    model.scoreBatch(batch, ids.length, scores);
    for (let i = 0; i < ids.length; i++) buffer += `${ids[i]},${scores[i]}\n`;
    ids.length = 0;
    if (buffer.length > 1 << 20) {
      fs.writeSync(out, buffer);
      buffer = '';
    }
  };
  try {
    for await (const row of readTransactions(values.input)) {
      batch.set(replay.features(row), ids.length * width);
      ids.push(row.id);
      rows++;
      if (ids.length === BATCH) flush();
      if (!values.quiet && (rows & 0x3fff) === 0 && Date.now() - lastProgress >= 2000) {
        lastProgress = Date.now();
        process.stderr.write(`fraud:score: ${rows} rows, ${Math.round(rows / ((lastProgress - started) / 1000))} rows/s\n`);
      }
    }
    flush();
    fs.writeSync(out, buffer);
    fs.closeSync(out);
    fs.renameSync(temporary, values.output);
  } catch (err) {
    fs.closeSync(out);
    fs.rmSync(temporary, { force: true });
    if (err instanceof MalformedInputError) {
      console.error(`fraud:score: malformed input at line ${err.line}: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const seconds = (Date.now() - started) / 1000;
  if (!values.quiet) {
    process.stderr.write(`fraud:score: ${rows} rows scored with model ${model.version} in ${seconds.toFixed(1)} s (${Math.round(rows / Math.max(seconds, 0.001))} rows/s) -> ${values.output}\n`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`fraud:score failed: ${err.message}`);
    process.exitCode = 1;
  },
);
