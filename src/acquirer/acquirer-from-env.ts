import { ApplicationFailure } from '@temporalio/common';
import type { Env } from '../config/env';
import type { AuthorizationResult, CardAuthorizer } from './acquirer-client';

/**
 * The acquirer the vault worker authorizes through. The acquirer sandbox and its HTTP client
 * arrive with the payment lifecycle; until then there is no acquirer, and an authorization says
 * so instead of pretending to approve.
 */
export function acquirerFromEnv(_env: Env): CardAuthorizer {
  return {
    async authorize(): Promise<AuthorizationResult> {
      throw ApplicationFailure.nonRetryable('No acquirer is configured yet: the acquirer sandbox arrives with the payment lifecycle', 'acquirer_not_configured');
    },
  };
}
