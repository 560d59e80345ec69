import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { connectCloseSafe } from './close-safe-connection';
import { devServerDynamicConfigArgs } from './dev-server-tuning';
import { devServerSearchAttributeArgs } from './search-attributes';

export interface DevServerOptions {
  /** The Temporal CLI binary (src/temporal/binaries). */
  binary: string;
  port: number;
  uiPort: number;
  /** SQLite file that keeps workflows across restarts; in memory when absent. */
  dbFile?: string;
  /**
   * `PRAGMA=VALUE` statements for that file (`--sqlite-pragma`). Default: DEV_SERVER_SQLITE_PRAGMAS,
   * write-ahead log with `synchronous=normal`: a committed transaction survives a crash of the
   * server, not a power cut in the last moments before the OS flushes (see the README).
   */
  sqlitePragmas?: readonly string[];
  namespace: string;
  /** Written while the server runs, so a later start can stop a server orphaned by a crash. */
  pidFile?: string;
  uiCodecEndpoint?: string;
  /** `--dynamic-config-value` settings; default DEV_SERVER_DYNAMIC_CONFIG (bench/e2e.ts passes `{}` to measure without them). */
  dynamicConfig?: Readonly<Record<string, number>>;
  /** Where the server's own output goes; tests keep it quiet. */
  output?: 'inherit' | 'ignore';
}

export interface DevServer {
  address: string;
  uiUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 60_000;

/**
 * The embedded server's SQLite file: in WAL mode, a commit appends to the log instead of
 * rewriting pages under a rollback journal, and `synchronous=normal` syncs at checkpoints rather
 * than at each commit. `npm run bench:e2e` on this machine, 16 clients (BENCH_SERVER_DB=file): payments
 * 6.0 → 9.2/s and the five-activity floor 10.1 → 18.8 workflows/s, as fast as the in-memory server (9.6, 18.9).
 */
export const DEV_SERVER_SQLITE_PRAGMAS: readonly string[] = ['journal_mode=wal', 'synchronous=normal'];

/**
 * Starts `temporal server start-dev` with the project's search attributes registered, and resolves
 * once its frontend answers gRPC. The child gets its own process group so a Ctrl-C in the terminal
 * reaches only the supervisor, which stops the server last, after the workers have drained.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  if (options.pidFile) await stopOrphan(options.pidFile);
  const host = '127.0.0.1';
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--log-level',
    'error', // at warn it prints pages of expected connection noise while it shuts down
    '--ui-disable-news-fetch', // the Web UI would otherwise fetch a newsfeed from the internet
    ...devServerSearchAttributeArgs(),
    // The history queues' read rate, which alone cost ~40 ms per task on a one-shard server (./dev-server-tuning.ts).
    ...devServerDynamicConfigArgs(options.dynamicConfig),
    // "default" always exists; naming it again is refused.
    ...(options.namespace !== 'default' ? ['--namespace', options.namespace] : []),
    ...(options.dbFile ? ['--db-filename', options.dbFile, ...(options.sqlitePragmas ?? DEV_SERVER_SQLITE_PRAGMAS).flatMap((p) => ['--sqlite-pragma', p])] : []),
    ...(options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
  ];
  const child = spawn(options.binary, args, {
    detached: true,
    stdio: ['ignore', options.output === 'inherit' ? 'inherit' : 'ignore', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr.push(chunk.toString());
    if (stderr.length > 50) stderr.shift();
    if (options.output === 'inherit') process.stderr.write(chunk);
  });
  if (options.pidFile && child.pid) fs.writeFileSync(options.pidFile, String(child.pid));

  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) =>
      reject(new Error(`Temporal dev server exited during start-up (${signal ?? `code ${code}`}): ${stderr.join('').trim().slice(-2000)}`)),
    );
    child.once('error', reject);
  });
  exited.catch(() => undefined);

  const address = `${host}:${options.port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    if (options.pidFile) fs.rmSync(options.pidFile, { force: true });
  };
  try {
    await Promise.race([waitForFrontend(address), exited]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl: `http://localhost:${options.uiPort}`, process: child, stop };
}

async function waitForFrontend(address: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    try {
      const connection = await connectCloseSafe({ address, connectTimeout: 1_000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal dev server did not answer on ${address}: ${(err as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** A server left behind by a supervisor that was killed outright still holds the ports and the db. */
async function stopOrphan(pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8'));
  } catch {
    return;
  }
  const isOurs = (() => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-dev');
    } catch {
      return false; // not running (or no /proc): nothing to stop
    }
  })();
  if (isOurs) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
  }
  fs.rmSync(pidFile, { force: true });
}
