/** `npm run worker:vault`: the vault task queue's activities (DESIGN.md §2). */
import { createVaultActivities } from '../activities/vault';
import { exitOnFailure } from '../process/lifecycle';
import { runWorkerProcess } from './run-worker';

exitOnFailure('worker:vault', runWorkerProcess('vault', () => ({ activities: createVaultActivities() })));
