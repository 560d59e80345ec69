import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { FraudModel, defaultModelFile } from '../../src/fraud/model';
import { ReplayFeatures, readTransactions } from '../../src/fraud/replay';
import { ROOT } from '../helpers/processes';

/**
 * `npm run --silent fraud:score` (dist/cli/fraud-score.js, built by the global setup): the replay
 * contract. Every row gets its score (as the pipeline in process gives it), `.csv.gz` is read as well
 * as `.csv`, and a malformed file is refused naming its line, leaving no output behind.
 */
const CLI = path.join(ROOT, 'dist', 'cli', 'fraud-score.js');
const HEADER = 'TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD';

describe('fraud:score', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fraud-score-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (input: string, output: string) => spawnSync(process.execPath, [CLI, '--input', input, '--output', output], { cwd: ROOT, encoding: 'utf8' });

  it('writes TRANSACTION_ID,SCORE for every row, as the pipeline scores them, from .csv.gz too', async () => {
    const lines = [HEADER];
    for (let i = 0; i < 400; i++) {
      const at = new Date(Date.UTC(2018, 5, 1) + i * 2_700_000).toISOString().replace('.000', '');
      lines.push(`${1000 + i},${at},${i % 37},${i % 11},${(5 + ((i * 7919) % 30000) / 100).toFixed(2)},${i % 50 === 0 ? 1 : i % 3 === 0 ? '' : 0}`);
    }
    const input = path.join(dir, 'rows.csv.gz');
    fs.writeFileSync(input, zlib.gzipSync(`${lines.join('\n')}\n`));
    const output = path.join(dir, 'scores.csv');
    const result = run(input, output);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('400 rows scored') });

    const written = fs.readFileSync(output, 'utf8').trim().split('\n');
    expect(written[0]).toBe('TRANSACTION_ID,SCORE');
    const model = FraudModel.load(defaultModelFile());
    const replay = new ReplayFeatures();
    const expected: string[] = [];
    for await (const row of readTransactions(input)) expected.push(`${row.id},${model.score(replay.features(row))}`);
    expect(written.slice(1)).toEqual(expected);
  });

  it('refuses a malformed file naming the line, and leaves no output', () => {
    const input = path.join(dir, 'bad.csv');
    fs.writeFileSync(input, `${HEADER}\n1,2018-06-01T00:00:00Z,1,1,10.00,0\n2,2018-06-01T00:01:00Z,1,1,ten,0\n`);
    const output = path.join(dir, 'bad-scores.csv');
    const result = run(input, output);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/malformed input at line 3: .*bad\.csv:3: TX_AMOUNT/);
    expect(fs.existsSync(output)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
    expect(run(path.join(dir, 'missing.csv'), output).stderr).toMatch(/no such file/);
  });
});
