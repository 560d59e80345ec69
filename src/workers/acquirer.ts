/** `npm run worker:acquirer`: capture, void, refund and settle by acquirer reference; no card data, no keys but the payload codec's (DESIGN.md §2). */
import { acquirerFromEnv } from '../acquirer/acquirer-from-env';
import { createAcquirerActivities } from '../activities/acquirer';
import { exitOnFailure } from '../process/lifecycle';
import { runWorkerProcess } from './run-worker';

exitOnFailure('worker:acquirer', runWorkerProcess('acquirer', ({ env }) => ({ activities: createAcquirerActivities({ acquirer: acquirerFromEnv(env) }) })));
