/**
 * `npm run worker:fraud`: the fraud task queue's activities (DESIGN.md §2): the rules engine over
 * the fraud tables. No card data and no keys but the payload codec's; it shares the vault's
 * database (in development, the same SQLite file) for its own tables only.
 */
import { z } from 'zod';
import { createFraudActivities } from '../activities/fraud';
import { ConfigError } from '../config/env';
import { FraudChecker } from '../fraud/fraud-checker';
import { FraudStore } from '../fraud/fraud-store';
import { fraudRulesConfig, type FraudRulesConfig } from '../fraud/rules';
import { exitOnFailure } from '../process/lifecycle';
import { openDb } from '../storage/open-db';
import { runWorkerProcess } from './run-worker';

const threshold = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional();

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
});

function fraudConfigFromEnv(source: NodeJS.ProcessEnv): FraudRulesConfig {
  const present = Object.fromEntries(Object.entries(source).filter(([k, v]) => k.startsWith('FRAUD_') && v !== undefined && v !== ''));
  const parsed = fraudEnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'FRAUD_*');
    throw new ConfigError(variable, `${issue.message} (got "${String(present[variable]).slice(0, 80)}")`);
  }
  const env = parsed.data;
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
  runWorkerProcess('fraud', async ({ env, logger }) => {
    const config = fraudConfigFromEnv(process.env);
    const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
    logger.info(
      {
        database: db.dialect,
        sandboxRules: config.sandboxRules,
        declineAmount: config.declineAmount,
        reviewAmount: config.reviewAmount,
        cardHourlyLimit: config.fingerprintVelocityLimit,
        merchantMinuteLimit: config.merchantVelocityLimit,
      },
      'fraud rules engine ready',
    );
    return {
      activities: createFraudActivities({ checker: new FraudChecker(new FraudStore(db), config) }),
      close: () => db.close(),
    };
  }),
);
