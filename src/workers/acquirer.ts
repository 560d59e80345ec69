/** `npm run worker:acquirer`: the acquirer task queue's activities (DESIGN.md §2). */
import { createAcquirerActivities } from '../activities/acquirer';
import { exitOnFailure } from '../process/lifecycle';
import { runWorkerProcess } from './run-worker';

exitOnFailure('worker:acquirer', runWorkerProcess('acquirer', () => ({ activities: createAcquirerActivities() })));
