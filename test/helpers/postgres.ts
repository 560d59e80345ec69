import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';
import { LOG_DIR } from './processes';

export interface PostgresServer {
  /** postgres://user@127.0.0.1:port/db */
  url: string;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const INSTALL_HINT =
  'Install PostgreSQL from Debian\'s packages (`apt-get install postgresql`, or run .ci/install-postgres.sh), ' +
  'set PG_BIN to the directory holding initdb and pg_ctl, or set TEST_DATABASE_URL to a server of your own.';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function hasTools(dir: string): boolean {
  return isExecutable(path.join(dir, 'initdb')) && isExecutable(path.join(dir, 'pg_ctl'));
}

/** Numeric, descending: 16 > 15 > 9.6. */
function compareVersionsDesc(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (d !== 0 && !Number.isNaN(d)) return d;
  }
  return b.localeCompare(a);
}

/**
 * The directory holding initdb and pg_ctl: $PG_BIN if set, else the highest version under
 * /usr/lib/postgresql/<version>/bin (Debian's layout), else a directory on PATH (following
 * symlinks, so /usr/local/bin/pg_ctl -> /usr/lib/postgresql/15/bin/pg_ctl counts).
 */
export function findPostgresBin(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv) {
    if (hasTools(fromEnv)) return fromEnv;
    throw new Error(`PG_BIN=${fromEnv} does not contain executable initdb and pg_ctl. ${INSTALL_HINT}`);
  }

  const debianRoot = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = fs.readdirSync(debianRoot).sort(compareVersionsDesc);
  } catch {
    // not a Debian-style install
  }
  for (const version of versions) {
    const dir = path.join(debianRoot, version, 'bin');
    if (hasTools(dir)) return dir;
  }

  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const tool of ['initdb', 'pg_ctl']) {
      const candidate = path.join(dir, tool);
      if (!isExecutable(candidate)) continue;
      if (hasTools(dir)) return dir;
      const realDir = path.dirname(fs.realpathSync(candidate));
      if (hasTools(realDir)) return realDir;
    }
  }

  throw new Error(
    `PostgreSQL server binaries (initdb, pg_ctl) not found in $PG_BIN, ${debianRoot}/*/bin or PATH. ${INSTALL_HINT}`,
  );
}

/** createdb next to initdb, else on PATH (Debian's wrapper in /usr/bin). */
function createdbPath(bin: string): string {
  const candidates = [bin, ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean)].map((dir) => path.join(dir, 'createdb'));
  const found = candidates.find(isExecutable);
  if (!found) throw new Error(`createdb not found in ${bin} or PATH. ${INSTALL_HINT}`);
  return found;
}

interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

function lookupUser(name: string): RunAs | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()), name };
}

/**
 * PostgreSQL refuses to run as root. As root, the server runs as the `postgres` user (created as
 * a system user if missing, as Debian's package would), falling back to `nobody`. As anyone else,
 * it runs as the current user.
 */
function serverUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = lookupUser('postgres');
  if (existing) return existing;
  const attempts: [string, string[]][] = [
    ['useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/var/lib/postgresql', '--shell', '/usr/sbin/nologin', 'postgres']],
    ['adduser', ['--system', '--group', '--no-create-home', '--home', '/var/lib/postgresql', 'postgres']],
  ];
  for (const [command, args] of attempts) {
    spawnSync(command, args, { stdio: 'ignore' });
    const created = lookupUser('postgres');
    if (created) return created;
  }
  const nobody = lookupUser('nobody');
  if (nobody) return nobody;
  throw new Error('Running as root, and neither a `postgres` user (could not create one with useradd/adduser) nor `nobody` exists to run PostgreSQL as.');
}

/** The inherited environment without PG* variables (PGHOST, PGDATA, PGPORT, ...) that would redirect the tools. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  env.LC_ALL = 'C';
  return env;
}

function run(file: string, args: string[], options: { user?: RunAs; cwd: string; timeoutMs?: number }): Promise<string> {
  const env = cleanEnv();
  if (options.user) {
    env.USER = options.user.name;
    env.LOGNAME = options.user.name;
    env.HOME = options.cwd;
  }
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env, uid: options.user?.uid, gid: options.user?.gid, timeout: options.timeoutMs ?? 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`.trim()));
        else resolve(stdout + stderr);
      },
    );
  });
}

function tail(file: string, chars = 3000): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '(no server log)';
  }
}

/** Clusters still running: stopped synchronously if the test process exits without calling stop(). */
const running = new Map<string, { pgCtl: string; dataDir: string; user?: RunAs; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const { pgCtl, dataDir, user, dir } of running.values()) {
      spawnSync(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { cwd: dir, env: cleanEnv(), uid: user?.uid, gid: user?.gid, stdio: 'ignore', timeout: 10_000 });
      fs.rmSync(dir, { recursive: true, force: true });
    }
    running.clear();
  });
}

/**
 * Starts a throwaway PostgreSQL cluster in a temp directory on a free loopback port, and creates a
 * database in it. With TEST_DATABASE_URL set, returns that URL instead and stop() does nothing.
 * With `tls`, the server also accepts TLS with that certificate and key (copied into the cluster,
 * the key readable by the server user alone, as PostgreSQL requires); TEST_DATABASE_URL is not
 * used then, since the test needs a server whose certificate it chose.
 */
export async function startPostgres(options: { database?: string; tls?: { certFile: string; keyFile: string } } = {}): Promise<PostgresServer> {
  const external = process.env.TEST_DATABASE_URL;
  if (external && !options.tls) return { url: external, stop: async () => {} };

  const database = options.database ?? 'test';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error(`startPostgres: unsupported database name ${JSON.stringify(database)}`);

  const bin = findPostgresBin();
  const user = serverUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-test-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  if (user) fs.chownSync(dir, user.uid, user.gid);
  const asServer = { user, cwd: dir };

  let started = false;
  let port = 0;
  const pgCtl = path.join(bin, 'pg_ctl');
  const cleanup = async (): Promise<void> => {
    if (started) {
      try {
        await run(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop'], asServer);
      } catch {
        await run(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], asServer).catch(() => undefined);
      }
      running.delete(dir);
      started = false;
    }
    try {
      fs.mkdirSync(LOG_DIR, { recursive: true });
      if (port) fs.copyFileSync(logFile, path.join(LOG_DIR, `postgres-${port}.log`));
    } catch {
      // no log to keep
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await run(
      path.join(bin, 'initdb'),
      ['-D', dataDir, '-U', SUPERUSER, '-E', 'UTF8', '--locale=C', '--auth-local=trust', '--auth-host=trust', '--no-sync'],
      asServer,
    );
    // Trust, but only over the Unix socket (in the private temp dir) and loopback.
    fs.writeFileSync(
      path.join(dataDir, 'pg_hba.conf'),
      'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n',
    );
    if (user) fs.chownSync(path.join(dataDir, 'pg_hba.conf'), user.uid, user.gid);
    const tlsOptions: string[] = [];
    if (options.tls) {
      for (const [from, to] of [[options.tls.certFile, 'server.crt'], [options.tls.keyFile, 'server.key']] as const) {
        fs.copyFileSync(from, path.join(dataDir, to));
        fs.chmodSync(path.join(dataDir, to), 0o600);
        if (user) fs.chownSync(path.join(dataDir, to), user.uid, user.gid);
      }
      tlsOptions.push('-c ssl=on', '-c ssl_cert_file=server.crt', '-c ssl_key_file=server.key');
    }

    installExitHook();
    // freePort() releases the port before the server binds it: retry on the rare lost race.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const serverOptions = [
        `-p ${port}`,
        `-k '${dir}'`,
        '-c listen_addresses=127.0.0.1',
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        ...tlsOptions,
      ].join(' ');
      running.set(dir, { pgCtl, dataDir, user, dir });
      started = true;
      try {
        await run(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOptions, 'start'], asServer);
        break;
      } catch (error) {
        const log = tail(logFile);
        await run(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], asServer).catch(() => undefined);
        running.delete(dir);
        started = false;
        if (attempt < 3 && /could not bind|Address already in use/i.test(log)) continue;
        throw new Error(`${(error as Error).message}\nserver log:\n${log}`);
      }
    }

    await run(createdbPath(bin), ['-h', '127.0.0.1', '-p', String(port), '-U', SUPERUSER, database], { cwd: dir });
  } catch (error) {
    await cleanup();
    throw error;
  }

  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`,
    stop: () => (stopped ??= cleanup()),
  };
}
