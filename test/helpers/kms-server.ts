import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { freePort } from './ports';
import { LOG_DIR, ROOT } from './processes';

/**
 * A real AWS-KMS-compatible server for tests: moto's server mode (`moto_server`), installed by
 * .ci/install-kms.sh into .tools/kms/venv. It speaks the KMS JSON protocol, so @aws-sdk/client-kms
 * talks to it with only `endpoint`, `region` and (dummy) `credentials` changed.
 *
 * Each server is a separate process with its own in-memory state: keys live until stop().
 */
export interface KmsServer {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

const INSTALL_SCRIPT = path.join(ROOT, '.ci', 'install-kms.sh');
const VENV = path.join(ROOT, '.tools', 'kms', 'venv');
const PYTHON = path.join(VENV, 'bin', 'python');
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const INSTALL_TIMEOUT_MS = 5 * 60_000;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const START_ATTEMPTS = 3;

/**
 * Runs moto_server, plus a watchdog: the server exits as soon as its stdin closes, i.e. when the
 * test process that started it dies, even by SIGKILL, so a crashed test run leaves no server behind.
 */
const LAUNCHER = [
  'import os, sys, threading',
  'def _watch():',
  '    sys.stdin.buffer.read()',
  '    os._exit(0)',
  'threading.Thread(target=_watch, daemon=True).start()',
  'from moto.server import main',
  'main(sys.argv[1:])',
].join('\n');

/** Runs .ci/install-kms.sh: a no-op (a few ms) when the pinned version is already installed. */
async function ensureInstalled(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile('bash', [INSTALL_SCRIPT], { cwd: ROOT, timeout: INSTALL_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${INSTALL_SCRIPT} failed (${error.message.split('\n')[0]}):\n${stdout}${stderr}`));
        return;
      }
      if (!/already installed/.test(stdout)) {
        fs.mkdirSync(LOG_DIR, { recursive: true });
        fs.appendFileSync(path.join(LOG_DIR, 'kms-install.log'), `${stdout}${stderr}`);
      }
      resolve();
    });
  });
  if (!fs.existsSync(PYTHON)) throw new Error(`${INSTALL_SCRIPT} ran but ${PYTHON} is missing`);
}

/** Resolves true once anything answers HTTP on the port (moto answers GET / with 200). */
function answersHttp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function killAndWait(child: ChildProcess): Promise<void> {
  const exited = exitOf(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin?.destroy(); // the watchdog's cue
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
  });
  const slow = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (slow) {
    child.kill('SIGKILL');
    await exited;
  }
}

function tail(file: string, chars = 3_000): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

type Attempt = { ok: true; server: KmsServer } | { ok: false; reason: string };

async function startOnce(port: number): Promise<Attempt> {
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, `kms-moto-${port}.log`);
  const logFd = fs.openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(PYTHON, ['-c', LAUNCHER, '--host', '127.0.0.1', '--port', String(port)], {
      cwd: ROOT,
      env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['pipe', logFd, logFd],
    });
  } finally {
    fs.closeSync(logFd);
  }
  // The watchdog reads stdin; never write to it, and don't let a broken pipe become an error.
  child.stdin?.on('error', () => undefined);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError) return { ok: false, reason: `cannot run ${PYTHON}: ${spawnError.message}` };
    if (child.exitCode !== null || child.signalCode !== null) {
      return { ok: false, reason: `moto_server exited (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}` };
    }
    // Werkzeug logs "Running on ..." once moto has bound the port: then it is ours that answers.
    if (tail(logFile).includes(`Running on http://127.0.0.1:${port}`) && (await answersHttp(port))) break;
    if (Date.now() > deadline) {
      await killAndWait(child);
      return { ok: false, reason: `moto_server did not answer on port ${port} within ${START_TIMEOUT_MS} ms:\n${tail(logFile)}` };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  let stopping: Promise<void> | undefined;
  return {
    ok: true,
    server: {
      endpoint: `http://127.0.0.1:${port}`,
      region: REGION,
      credentials: { ...CREDENTIALS },
      stop() {
        stopping ??= killAndWait(child);
        return stopping;
      },
    },
  };
}

/** Starts the KMS-compatible server on a free loopback port; installs it first (by running .ci/install-kms.sh) if .tools/kms is missing. */
export async function startKmsServer(): Promise<KmsServer> {
  await ensureInstalled();
  const failures: string[] = [];
  // freePort() releases the port before moto binds it: retry on the rare race.
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const result = await startOnce(await freePort());
    if (result.ok) return result.server;
    failures.push(result.reason);
  }
  throw new Error(`KMS server (moto_server) failed to start ${START_ATTEMPTS} times:\n${failures.join('\n---\n')}`);
}

/** Creates a symmetric AES-256 key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) and returns its KeyId/ARN. */
export async function createKmsKey(server: KmsServer, description?: string): Promise<string> {
  const client = new KMSClient({ endpoint: server.endpoint, region: server.region, credentials: server.credentials });
  try {
    const { KeyMetadata } = await client.send(
      new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Description: description }),
    );
    const id = KeyMetadata?.Arn ?? KeyMetadata?.KeyId;
    if (!id) throw new Error('CreateKey returned no KeyMetadata.Arn/KeyId');
    return id;
  } finally {
    client.destroy();
  }
}
