/**
 * The merchant API as an AWS Lambda function (API Gateway HTTP API payload 2.0, or an ALB): the
 * same Express app as `npm run api` (src/api/compose-api.ts), served through serverless-http.
 * Bundled to dist/lambda/handler.js by `npm run build:lambda` (docs/lambda.md).
 *
 * What is made once per container and kept across invocations: the configuration (validated at
 * init), the Temporal connection (src/api/lambda/lambda-temporal.ts), the database pool, the
 * payload key and the vault's intake public key. Per invocation: its request id on every log
 * line, and a payment wait cut to the invocation's remaining time so the answer is a 202 in time.
 */
import type { Context } from 'aws-lambda';
import type { DestinationStream } from 'pino';
import serverless from 'serverless-http';
import { createLogger, type Logger } from '../logging/logger';
import { temporalAddress } from '../temporal/connection';
import { gatewayDataConverter } from '../temporal/data-converter';
import { composeApi, type ComposedApi } from './compose-api';
import { currentInvocation, invocationLogFields, runInvocation } from './lambda/invocation';
import { lambdaEnv } from './lambda/lambda-config';
import { resolveLambdaSecrets, type LambdaSecretsOptions } from './lambda/lambda-secrets';
import { LambdaTemporal } from './lambda/lambda-temporal';

/**
 * Time kept back from the invocation's end: the read of the payment after the wait (up to 3 s,
 * src/api/payments/payment-service.ts) and the answer's way out.
 */
export const ANSWER_MARGIN_MS = 4_000;

/** A Lambda container's API: built once, then serving one invocation after another. */
export interface LambdaContainer {
  api: ComposedApi;
  temporal: LambdaTemporal;
  logger: Logger;
  serve: ReturnType<typeof serverless>;
}

/** Everything an invocation needs that outlives it; fails (naming the variable) on bad configuration. */
export async function initContainer(given: NodeJS.ProcessEnv = process.env, logDestination?: DestinationStream, secrets?: LambdaSecretsOptions): Promise<LambdaContainer> {
  // DATABASE_URL and the Temporal mTLS pair from Secrets Manager, when the function names their ARNs.
  const source = await resolveLambdaSecrets(given, secrets);
  const env = lambdaEnv(source);
  const logger = createLogger({ name: 'api-lambda', level: env.LOG_LEVEL, mixin: invocationLogFields }, logDestination);
  let temporal: LambdaTemporal | undefined;
  const api = await composeApi({
    env,
    source,
    logger,
    client: (keys) => (temporal = new LambdaTemporal(env, gatewayDataConverter(keys), logger)).client,
    requestTimeLeftMs: () => {
      const invocation = currentInvocation();
      return invocation ? invocation.deadline - Date.now() - ANSWER_MARGIN_MS : undefined;
    },
  });
  // The intake key never changes once published: read it now, not on the first payment. A vault
  // not started yet is no reason to fail the container; the first seal reads it then.
  await api.intake.prefetchIntakeKey().catch((err: Error) => logger.warn({ err: err.message }, 'vault intake key not readable yet'));
  const serve = serverless(api.app, { provider: 'aws' });
  logger.info({ temporal: temporalAddress(env), database: env.DATABASE_URL ? 'postgresql' : 'sqlite' }, 'API Lambda container ready');
  return { api, temporal: temporal!, logger, serve };
}

/** A handler over one container, built on its first use (or at once, see `handler`). */
export function createLambdaHandler(container: () => Promise<LambdaContainer>) {
  let ready: Promise<LambdaContainer> | undefined;
  return async function handle(event: unknown, context: Context): Promise<unknown> {
    const c = await (ready ??= container());
    return runInvocation({ awsRequestId: context.awsRequestId, deadline: Date.now() + context.getRemainingTimeInMillis() }, async () => {
      await c.temporal.freshen();
      try {
        return await c.serve(event as object, context);
      } finally {
        // Nothing may run after the answer (Lambda freezes the container): the failed-login counts go now.
        await c.api.authFailures.flush().catch((err: Error) => c.logger.error({ err: err.message }, 'authentication failures could not be audited'));
        c.temporal.done();
      }
    });
  };
}

// In Lambda (the runtime sets AWS_LAMBDA_FUNCTION_NAME) the container is built during init, which
// Lambda does not bill at the invocation's memory and runs before the first request arrives.
const eager = process.env.AWS_LAMBDA_FUNCTION_NAME ? initContainer() : undefined;
// A failed init is reported by every invocation (with the variable it names), not as an unhandled rejection.
eager?.catch(() => undefined);

export const handler = createLambdaHandler(() => eager ?? initContainer());
