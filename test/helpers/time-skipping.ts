import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { testServerPath } from './temporal-binaries';

/**
 * A time-skipping environment on Temporal's own test server, started from the binary the project
 * provisioned (never the SDK's download site, which these machines cannot reach).
 */
export async function createTimeSkippingEnv(path?: string, options: { dataConverter?: DataConverter } = {}): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: path ?? (await testServerPath()) } },
    ...(options.dataConverter ? { client: { dataConverter: options.dataConverter } } : {}),
  });
}
