import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
/** Every process a test starts writes its output here; the leak scan reads it after the suite. */
export const LOG_DIR = path.join(ROOT, 'test-output', 'logs');

export interface RunningProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves when a line of output matches, rejects if the process exits first or time runs out. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a compiled entry point of the project (dist/...) as a real process. */
export function startNodeProcess(name: string, script: string, env: NodeJS.ProcessEnv): RunningProcess {
  fs.mkdirSync(LOG_DIR, { recursive: true });
  // STACK_NODE_ARGS: node flags for every stack process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p` (npm run profile:e2e).
  const nodeArgs = (process.env.STACK_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist', script)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logFile = path.join(LOG_DIR, `${name.replace(/[^\w-]/g, '_')}-${child.pid}.log`);
  const log = fs.createWriteStream(logFile);
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    log.write(chunk);
    for (const wake of waiters) wake();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      log.end();
      resolve({ code, signal });
    }),
  );

  return {
    name,
    child,
    logFile,
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.split('\n').find((line) => pattern.test(line));
          if (match === undefined) return;
          cleanup();
          resolve(match);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no output matching ${pattern} within ${timeoutMs} ms:\n${output.slice(-3000)}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`${name} exited before printing ${pattern}:\n${output.slice(-3000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
