/** `npm run worker:fraud`: the fraud task queue's activities (DESIGN.md §2). */
import { createFraudActivities } from '../activities/fraud';
import { exitOnFailure } from '../process/lifecycle';
import { runWorkerProcess } from './run-worker';

exitOnFailure('worker:fraud', runWorkerProcess('fraud', () => ({ activities: createFraudActivities() })));
