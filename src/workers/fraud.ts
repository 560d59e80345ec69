/**
 * `npm run worker:fraud`: the fraud task queue's activities (DESIGN.md §2): the rules engine as a
 * first line, then the fraud model (models/fraud/<version>.json, or FRAUD_MODEL_FILE) over the
 * feature store, and fraud reports. No card data and no keys but the payload codec's; it shares the
 * vault's database (in development, the same SQLite file) for its own tables only.
 */
import { z } from 'zod';
import { createFraudActivities } from '../activities/fraud';
import { ConfigError } from '../config/env';
import { FraudChecker } from '../fraud/fraud-checker';
import { FraudStore } from '../fraud/fraud-store';
import { FraudModel, defaultModelFile } from '../fraud/model';
import { fraudRulesConfig, type FraudRulesConfig } from '../fraud/rules';
import { exitOnFailure } from '../process/lifecycle';
import { openDb } from '../storage/open-db';
import { runWorkerProcess } from './run-worker';

const threshold = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional();
const probability = z.coerce.number().min(0).max(1).optional();

/** The fraud worker's own settings; unset or empty variables take the rules' defaults (src/fraud/rules.ts). */
const fraudEnvSchema = z.object({
  /** The sandbox's fraud test cards decline (…0019) and go to review (…4954). Default true; set false in production. */
  FRAUD_SANDBOX_RULES: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => v === undefined || v === 'true' || v === '1'),
  /** Minor units at or above which a payment is declined (default 1000000). */
  FRAUD_DECLINE_AMOUNT: threshold,
  /** Minor units at or above which a payment goes to review (default 250000). */
  FRAUD_REVIEW_AMOUNT: threshold,
  /** Payments per card per hour above which a payment goes to review; above twice as many, declined (default 5). */
  FRAUD_CARD_HOURLY_LIMIT: threshold,
  /** Payments per merchant per minute above which a payment goes to review (default 120). */
  FRAUD_MERCHANT_MINUTE_LIMIT: threshold,
  /** The model artifact; default the newest under models/fraud; `none` runs the rules alone. */
  FRAUD_MODEL_FILE: z.string().optional(),
  /** Scores at or above this go to review (default: the artifact's, chosen for a 1 % review budget). */
  FRAUD_REVIEW_SCORE: probability,
  /** Scores at or above this are declined (default: the artifact's). */
  FRAUD_DECLINE_SCORE: probability,
});

interface ModelConfig {
  file: string | undefined;
  review?: number;
  decline?: number;
}

/** The FRAUD_* variables that are set, validated; a bad one is a ConfigError naming it. */
function parseFraudEnv(source: NodeJS.ProcessEnv) {
  const present = Object.fromEntries(Object.entries(source).filter(([k, v]) => k.startsWith('FRAUD_') && v !== undefined && v !== ''));
  const parsed = fraudEnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'FRAUD_*');
    throw new ConfigError(variable, `${issue.message} (got "${String(present[variable]).slice(0, 80)}")`);
  }
  return parsed.data;
}

function modelConfigFromEnv(source: NodeJS.ProcessEnv): ModelConfig {
  const env = parseFraudEnv(source);
  if (env.FRAUD_REVIEW_SCORE !== undefined && env.FRAUD_DECLINE_SCORE !== undefined && env.FRAUD_REVIEW_SCORE > env.FRAUD_DECLINE_SCORE) {
    throw new ConfigError('FRAUD_REVIEW_SCORE', 'must not be above FRAUD_DECLINE_SCORE');
  }
  const file = env.FRAUD_MODEL_FILE === 'none' ? undefined : (env.FRAUD_MODEL_FILE ?? defaultModelFile());
  return { file, ...(env.FRAUD_REVIEW_SCORE !== undefined ? { review: env.FRAUD_REVIEW_SCORE } : {}), ...(env.FRAUD_DECLINE_SCORE !== undefined ? { decline: env.FRAUD_DECLINE_SCORE } : {}) };
}

/** States untouched for the whole retention can no longer affect a feature: deleted hourly. */
const PRUNE_INTERVAL_MS = 3_600_000;

function fraudConfigFromEnv(source: NodeJS.ProcessEnv): FraudRulesConfig {
  const env = parseFraudEnv(source);
  try {
    return fraudRulesConfig({
      sandboxRules: env.FRAUD_SANDBOX_RULES,
      declineAmount: env.FRAUD_DECLINE_AMOUNT,
      reviewAmount: env.FRAUD_REVIEW_AMOUNT,
      fingerprintVelocityLimit: env.FRAUD_CARD_HOURLY_LIMIT,
      merchantVelocityLimit: env.FRAUD_MERCHANT_MINUTE_LIMIT,
    });
  } catch (err) {
    // Each threshold is valid alone (checked above); what is left is their order.
    if (err instanceof z.ZodError) throw new ConfigError('FRAUD_REVIEW_AMOUNT', 'must not be above FRAUD_DECLINE_AMOUNT');
    throw err;
  }
}

exitOnFailure(
  'worker:fraud',
  runWorkerProcess('fraud', async ({ env, logger, metrics }) => {
    const config = fraudConfigFromEnv(process.env);
    const modelConfig = modelConfigFromEnv(process.env);
    const model = modelConfig.file ? FraudModel.load(modelConfig.file) : undefined;
    const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
    const store = new FraudStore(db);
    if (model) metrics.initFraudModel(model.version);
    const checker = new FraudChecker(store, {
      rules: config,
      ...(model ? { model } : {}),
      thresholds: { ...(modelConfig.review !== undefined ? { review: modelConfig.review } : {}), ...(modelConfig.decline !== undefined ? { decline: modelConfig.decline } : {}) },
      onScored: (score, decision, version) => metrics.recordFraudScore(score, decision, version),
    });
    const prune = setInterval(() => {
      store.features.pruneStates(Date.now()).catch((err: Error) => logger.warn({ err: err.message }, 'pruning fraud feature states failed'));
    }, PRUNE_INTERVAL_MS);
    prune.unref();
    logger.info(
      {
        database: db.dialect,
        sandboxRules: config.sandboxRules,
        declineAmount: config.declineAmount,
        reviewAmount: config.reviewAmount,
        cardHourlyLimit: config.fingerprintVelocityLimit,
        merchantMinuteLimit: config.merchantVelocityLimit,
        modelVersion: model?.version ?? 'none (rules only)',
        reviewScore: checker.thresholds?.review,
        declineScore: checker.thresholds?.decline,
      },
      'fraud check ready',
    );
    return {
      activities: createFraudActivities({ checker }),
      close: async () => {
        clearInterval(prune);
        await db.close();
      },
    };
  }),
);
