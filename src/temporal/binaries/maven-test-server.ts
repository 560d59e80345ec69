import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { installExecutable } from './pypi-wheel';
import type { ToolSpec } from './tools';

const run = promisify(execFile);

/**
 * The second route to the time-skipping test server: Temporal's own JVM build from Maven Central
 * (`io.temporal:temporal-test-server`), resolved with its runtime dependencies by Maven and
 * started by a small launcher. The launcher takes the port as its only argument, which is how
 * the SDK's `existing-path` option starts a test server.
 */
export async function provisionFromMaven(
  spec: ToolSpec,
  provisionDir: string,
  options: { mavenCommand: string; javaCommand: string; log: (line: string) => void },
): Promise<string> {
  const maven = spec.maven;
  if (!maven) throw new Error(`${spec.title} is not published on Maven Central`);
  await requireCommand(options.javaCommand, ['-version']);
  await requireCommand(options.mavenCommand, ['--version']);

  const workDir = path.join(provisionDir, 'maven');
  const libDir = path.join(workDir, 'lib');
  await fs.mkdir(workDir, { recursive: true });
  await fs.writeFile(
    path.join(workDir, 'pom.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.gateway</groupId>
  <artifactId>temporal-test-server-launcher</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>${maven.groupId}</groupId>
      <artifactId>${maven.artifactId}</artifactId>
      <version>${maven.version}</version>
    </dependency>
  </dependencies>
</project>
`,
  );
  options.log(`fetching ${maven.groupId}:${maven.artifactId}:${maven.version} and its dependencies from Maven Central`);
  await run(
    options.mavenCommand,
    ['-q', '-B', '-f', path.join(workDir, 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libDir}`],
    { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
  );

  const launcher = `#!/bin/sh
# Temporal's time-skipping test server, JVM build from Maven Central (${maven.artifactId} ${maven.version}).
# Usage: temporal-test-server-jvm <port>
exec ${shellQuote(options.javaCommand)} -cp ${shellQuote(`${libDir}${path.sep}*`)} ${maven.mainClass} "$@"
`;
  return installExecutable(path.join(provisionDir, 'bin'), 'temporal-test-server-jvm', launcher);
}

async function requireCommand(command: string, args: string[]): Promise<void> {
  try {
    await run(command, args, { timeout: 60_000 });
  } catch (err) {
    throw new Error(`${command} is not available (${(err as Error).message.split('\n')[0]})`);
  }
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
