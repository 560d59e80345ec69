import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { FEATURE_NAMES, type FeatureVector } from './features';

/**
 * The fraud model in the worker: gradient-boosted trees read from the artifact `npm run fraud:train`
 * writes (models/fraud/<version>.json), scored by plain tree traversal. The traversal follows
 * LightGBM's numerical splits exactly (`value <= threshold` goes left; missing values by the split's
 * missing type), so the worker's scores equal the trainer's (test/unit/fraud-model-parity.test.ts).
 */

const tree = z.object({
  /** Per node: the split's feature index, or -1 for a leaf. */
  feature: z.array(z.number().int()),
  threshold: z.array(z.number()),
  left: z.array(z.number().int()),
  right: z.array(z.number().int()),
  /** Leaf value for a leaf; the node's own output (LightGBM's internal_value) for a split, for explanations. */
  value: z.array(z.number()),
  /** 1 when a missing value goes left. */
  default_left: z.array(z.number().int()),
  /** 0 none (a missing value counts as 0), 1 zero, 2 NaN: LightGBM's missing types. */
  missing_type: z.array(z.number().int()),
});

const figures = z.object({ auc_roc: z.number(), average_precision: z.number(), card_precision_at_100: z.number() });

export const modelArtifactSchema = z.object({
  format: z.literal('card-gateway-fraud-model/1'),
  version: z.string().regex(/^[A-Za-z0-9._-]+$/),
  created_at: z.string(),
  family: z.string(),
  features: z.array(z.string()),
  trees: z.array(tree),
  /** Added to the trees' sum before the sigmoid. */
  base_score: z.number(),
  thresholds: z.object({
    /** Scores at or above this go to review. */
    review: z.number().min(0).max(1),
    /** Scores at or above this are declined. */
    decline: z.number().min(0).max(1),
    review_budget: z.number(),
  }),
  training: z.record(z.string(), z.unknown()),
  validation: z.object({ folds: z.array(z.record(z.string(), z.unknown())), mean: figures }).passthrough(),
}).passthrough();

export type ModelArtifact = z.infer<typeof modelArtifactSchema>;
type Tree = ModelArtifact['trees'][number];

/** kZeroThreshold in LightGBM: what counts as zero for the "zero" missing type. */
const ZERO_THRESHOLD = 1e-35;

export interface ModelScore {
  /** Probability of fraud, 0 to 1. */
  score: number;
  /** Per feature, how much it moved the raw score (log-odds) along the trees' paths. */
  contributions: Float64Array;
}

export class FraudModel {
  readonly version: string;
  // Every tree's nodes in one set of typed arrays (child indexes are global): a tight loop, no objects.
  private readonly roots: Int32Array;
  private readonly feature: Int32Array;
  private readonly threshold: Float64Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly value: Float64Array;
  private readonly defaultLeft: Uint8Array;
  private readonly missingType: Uint8Array;
  /** The trees' root outputs, summed with the base score: where the explanations start. */
  readonly rootSum: number;

  constructor(readonly artifact: ModelArtifact) {
    const expected = FEATURE_NAMES.join(',');
    if (artifact.features.join(',') !== expected) {
      throw new Error(
        `Fraud model ${artifact.version} was trained on other features than this worker computes ` +
          `(model: ${artifact.features.length}, worker: ${FEATURE_NAMES.length}); retrain with npm run fraud:train`,
      );
    }
    this.version = artifact.version;
    const total = artifact.trees.reduce((n, t) => n + t.feature.length, 0);
    this.roots = new Int32Array(artifact.trees.length);
    this.feature = new Int32Array(total);
    this.threshold = new Float64Array(total);
    this.left = new Int32Array(total);
    this.right = new Int32Array(total);
    this.value = new Float64Array(total);
    this.defaultLeft = new Uint8Array(total);
    this.missingType = new Uint8Array(total);
    let offset = 0;
    let rootSum = artifact.base_score;
    artifact.trees.forEach((t: Tree, i) => {
      // Laid out breadth first, each split's two children side by side (right = left + 1): the
      // traversal then picks a child by arithmetic instead of a hard-to-predict branch.
      const order = [0];
      const position = new Map<number, number>([[0, offset]]);
      for (let k = 0; k < order.length; k++) {
        const n = order[k]!;
        if (t.feature[n]! < 0) continue;
        for (const child of [t.left[n]!, t.right[n]!]) {
          position.set(child, offset + order.length);
          order.push(child);
        }
      }
      if (order.length !== t.feature.length) throw new Error(`Fraud model ${artifact.version}: tree ${i} is not a tree`);
      this.roots[i] = offset;
      for (const n of order) {
        const at = position.get(n)!;
        const f = t.feature[n]!;
        if (f >= FEATURE_NAMES.length) throw new Error(`Fraud model ${artifact.version}: tree ${i} splits on feature ${f}, which does not exist`);
        this.feature[at] = f;
        this.threshold[at] = t.threshold[n]!;
        this.left[at] = f >= 0 ? position.get(t.left[n]!)! : -1;
        this.right[at] = f >= 0 ? position.get(t.right[n]!)! : -1;
        this.value[at] = t.value[n]!;
        this.defaultLeft[at] = t.default_left[n]!;
        this.missingType[at] = t.missing_type[n]!;
      }
      rootSum += t.value[0]!;
      offset += t.feature.length;
    });
    this.rootSum = rootSum;
    this.plain = this.missingType.every((m) => m === 0);
  }

  /** Whether every split is a plain `value <= threshold` (LightGBM's missing type None). */
  private readonly plain: boolean;

  static load(file: string): FraudModel {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`Cannot read the fraud model ${file}: ${(err as Error).message}`);
    }
    const parsed = modelArtifactSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`The fraud model ${file} is not a model artifact: ${issue.path.join('.')}: ${issue.message}`);
    }
    return new FraudModel(parsed.data);
  }

  /** The raw score (log-odds). Trees are summed in order, as LightGBM does. */
  raw(x: FeatureVector): number {
    let sum = this.artifact.base_score;
    const { roots, feature, threshold, left, right, value } = this;
    if (this.plain) {
      // No split has a missing-value rule: a missing value (NaN) is 0, decided once per feature.
      const v = this.clean(x);
      for (let i = 0; i < roots.length; i++) {
        let node = roots[i]!;
        let f = feature[node]!;
        while (f >= 0) {
          // LightGBM: `value <= threshold` goes left. NaN is gone (clean).
          node = v[f]! <= threshold[node]! ? left[node]! : right[node]!;
          f = feature[node]!;
        }
        sum += value[node]!;
      }
      return sum;
    }
    for (let i = 0; i < roots.length; i++) {
      let node = roots[i]!;
      while (feature[node]! >= 0) node = this.next(node, x);
      sum += value[node]!;
    }
    return sum;
  }

  private readonly scratch = new Float64Array(FEATURE_NAMES.length);

  private clean(x: FeatureVector): FeatureVector {
    let dirty = false;
    for (let i = 0; i < x.length; i++) if (Number.isNaN(x[i])) dirty = true;
    if (!dirty) return x;
    for (let i = 0; i < x.length; i++) this.scratch[i] = Number.isNaN(x[i]) ? 0 : x[i]!;
    return this.scratch;
  }

  /** The probability of fraud. */
  score(x: FeatureVector): number {
    return sigmoid(this.raw(x));
  }

  /**
   * Probabilities of `rows` feature vectors laid end to end in `xs` (the replay's batches): tree by
   * tree rather than row by row, so each tree stays in the CPU's cache while every row walks it. The
   * same sums in the same order as `score`, so the same results to the bit.
   */
  scoreBatch(xs: Float64Array, rows: number, out: Float64Array): void {
    const width = FEATURE_NAMES.length;
    if (!this.plain || xs.some(Number.isNaN)) {
      for (let r = 0; r < rows; r++) out[r] = this.score(xs.subarray(r * width, (r + 1) * width));
      return;
    }
    const { roots, feature, threshold, left, right, value } = this;
    out.fill(this.artifact.base_score, 0, rows);
    for (let i = 0; i < roots.length; i++) {
      const root = roots[i]!;
      for (let r = 0, base = 0; r < rows; r++, base += width) {
        let node = root;
        let f = feature[node]!;
        while (f >= 0) {
          node = xs[base + f]! <= threshold[node]! ? left[node]! : right[node]!;
          f = feature[node]!;
        }
        out[r]! += value[node]!;
      }
    }
    for (let r = 0; r < rows; r++) out[r] = sigmoid(out[r]!);
  }

  /** The probability and each feature's contribution (Saabas: the change of node output along the path). */
  explain(x: FeatureVector): ModelScore {
    const contributions = new Float64Array(x.length);
    let sum = this.artifact.base_score;
    const { roots, feature, value } = this;
    for (let i = 0; i < roots.length; i++) {
      let node = roots[i]!;
      while (feature[node]! >= 0) {
        const next = this.next(node, x);
        contributions[feature[node]!]! += value[next]! - value[node]!;
        node = next;
      }
      sum += value[node]!;
    }
    return { score: sigmoid(sum), contributions };
  }

  /** LightGBM's NumericalDecision: the child of split `node` that `x` goes to. */
  private next(node: number, x: FeatureVector): number {
    let v = x[this.feature[node]!]!;
    const missing = this.missingType[node]!;
    if (missing !== 0 || Number.isNaN(v)) {
      if (Number.isNaN(v) && missing !== 2) v = 0;
      if ((missing === 1 && v >= -ZERO_THRESHOLD && v <= ZERO_THRESHOLD) || (missing === 2 && Number.isNaN(v))) {
        return this.defaultLeft[node] === 1 ? this.left[node]! : this.right[node]!;
      }
    }
    return v <= this.threshold[node]! ? this.left[node]! : this.right[node]!;
  }
}

function sigmoid(raw: number): number {
  return 1 / (1 + Math.exp(-raw));
}

/** The repository (or image) root: the nearest folder above this file with the project's package.json (src/, dist/ and dist-bench/ alike). */
function projectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'models'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..', '..');
  }
}

/** The artifacts in the repository; the worker uses the newest unless FRAUD_MODEL_FILE names another. */
export const MODELS_DIR = path.join(projectRoot(__dirname), 'models', 'fraud');

/** The newest artifact under models/fraud (versions sort by their date prefix). */
export function defaultModelFile(dir = MODELS_DIR): string {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  const newest = files[files.length - 1];
  if (!newest) throw new Error(`No fraud model under ${dir}: run npm run fraud:train, or set FRAUD_MODEL_FILE`);
  return path.join(dir, newest);
}
