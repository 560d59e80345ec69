import type { Env } from '../config/env';
import type { AcquirerClient } from './acquirer-client';
import { HttpAcquirerClient } from './http-acquirer-client';

/**
 * The acquirer the vault and acquirer workers talk to: the sandbox under `npm start` and in tests,
 * and in production a connector with the same interface at ACQUIRER_URL.
 */
export function acquirerFromEnv(env: Env): AcquirerClient {
  return new HttpAcquirerClient({ baseUrl: env.ACQUIRER_URL });
}
