/** `npm run worker:payments`: runs workflows only; holds no keys (DESIGN.md §2). */
import { metricsSinks } from '../observability/metrics';
import { exitOnFailure } from '../process/lifecycle';
import { runWorkerProcess } from './run-worker';

exitOnFailure(
  'worker:payments',
  runWorkerProcess('payments', ({ env, logger, metrics }) => ({
    workflowsPath: require.resolve('../workflows'),
    sinks: metricsSinks(metrics, logger),
    // The SDK's sticky cache unless PAYMENTS_WORKFLOW_CACHE_SIZE says otherwise (src/config/env.ts).
    ...(env.PAYMENTS_WORKFLOW_CACHE_SIZE !== undefined ? { maxCachedWorkflows: env.PAYMENTS_WORKFLOW_CACHE_SIZE } : {}),
  })),
);
