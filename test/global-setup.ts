import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { resolveTemporalBinary } from '../src/temporal/binaries/resolve';

/**
 * Runs once before the suite: compiles dist/ (integration tests start the real worker and API
 * processes from it, as `npm start` does) and provisions both Temporal binaries, so test files
 * never race each other to download them.
 */
export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  // The global teardown scans the logs written from now on for card data.
  process.env.GATEWAY_TEST_RUN_STARTED = String(Date.now());
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  await resolveTemporalBinary('cli');
  await resolveTemporalBinary('test-server');
}
