/** `npm run worker:payments`: runs workflows only; holds no keys (DESIGN.md §2). */
import { exitOnFailure } from '../process/lifecycle';
import { runWorkerProcess } from './run-worker';

exitOnFailure('worker:payments', runWorkerProcess('payments', () => ({ workflowsPath: require.resolve('../workflows') })));
