import { ApplicationFailure } from '@temporalio/common';
import type { Env } from '../config/env';
import type { AcquirerClient } from './acquirer-client';

/**
 * The acquirer the vault and acquirer workers talk to. Until the sandbox client is wired in, there
 * is no acquirer, and every call says so instead of pretending to succeed.
 */
export function acquirerFromEnv(_env: Env): AcquirerClient {
  const missing = async (): Promise<never> => {
    throw ApplicationFailure.nonRetryable('No acquirer is configured', 'acquirer_not_configured');
  };
  return { authorize: missing, capture: missing, void: missing, refund: missing, settle: missing };
}
