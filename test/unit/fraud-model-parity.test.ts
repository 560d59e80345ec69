import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { FEATURE_NAMES } from '../../src/fraud/features';
import { FraudModel, defaultModelFile } from '../../src/fraud/model';

/**
 * The worker's scores equal the trainer's. `npm run fraud:train` writes, beside the artifact, 10,000
 * rows it did not train on with the features (as the TypeScript pipeline exported them) and the score
 * LightGBM gave each; the worker's tree traversal must give the same to 1e-6. The fixture is committed,
 * so this runs everywhere (no Python needed) and cannot be skipped; it names the model it belongs to, so
 * a retrained artifact without its fixture fails here.
 */
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'fraud', 'parity-scores.csv.gz');

describe('fraud model parity with the trainer', () => {
  const lines = zlib.gunzipSync(fs.readFileSync(FIXTURE)).toString('utf8').trim().split('\n');
  const version = /^# trainer scores of (\S+)$/.exec(lines[0]!)?.[1];
  const header = lines[1]!.split(',');
  const rows = lines.slice(2).map((l) => l.split(',').map(Number));
  const model = FraudModel.load(defaultModelFile());

  it('the fixture belongs to the artifact the worker loads, and has 10,000 rows of every feature', () => {
    expect(version).toBe(model.version);
    expect(header).toEqual(['row', ...FEATURE_NAMES, 'score']);
    expect(rows).toHaveLength(10_000);
    expect(rows.every((r) => r.length === header.length && r.every(Number.isFinite))).toBe(true);
  });

  it('scores every row as the trainer did, to 1e-6', () => {
    let worst = 0;
    let worstRow = -1;
    for (const r of rows) {
      const features = Float64Array.from(r.slice(1, 1 + FEATURE_NAMES.length));
      const expected = r[r.length - 1]!;
      const diff = Math.abs(model.score(features) - expected);
      if (diff > worst) {
        worst = diff;
        worstRow = r[0]!;
      }
    }
    expect({ worst, worstRow, ok: worst <= 1e-6 }).toEqual({ worst, worstRow, ok: true });
  });

  it('scoring in batches (the replay CLI) gives the same numbers to the bit', () => {
    const width = FEATURE_NAMES.length;
    const n = 1000;
    const xs = new Float64Array(n * width);
    rows.slice(0, n).forEach((r, i) => xs.set(r.slice(1, 1 + width), i * width));
    const out = new Float64Array(n);
    model.scoreBatch(xs, n, out);
    const mismatches = rows.slice(0, n).filter((r, i) => out[i] !== model.score(Float64Array.from(r.slice(1, 1 + width))));
    expect(mismatches).toHaveLength(0);
  });

  it('explaining a score gives the same score, and contributions that add up to it', () => {
    for (const r of rows.slice(0, 500)) {
      const features = Float64Array.from(r.slice(1, 1 + FEATURE_NAMES.length));
      const { score, contributions } = model.explain(features);
      expect(score).toBe(model.score(features));
      // Saabas contributions telescope: root values plus every contribution is the raw score.
      const total = contributions.reduce((a, b) => a + b, model.rootSum);
      expect(total).toBeCloseTo(model.raw(features), 9);
    }
  });
});
