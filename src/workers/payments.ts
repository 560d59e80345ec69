/** `npm run worker:payments`: runs workflows only; holds no keys (DESIGN.md §2). */
import { metricsSinks } from '../observability/metrics';
import { exitOnFailure } from '../process/lifecycle';
import { runWorkerProcess } from './run-worker';

exitOnFailure(
  'worker:payments',
  runWorkerProcess('payments', ({ metrics }) => ({ workflowsPath: require.resolve('../workflows'), sinks: metricsSinks(metrics) })),
);
