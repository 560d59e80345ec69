import { spawn, type ChildProcess } from 'node:child_process';

export interface ManagedProcessOptions {
  name: string;
  script: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** The npm script that starts this process alone (`worker:vault` for `worker:vault#2`); default `name`. */
  npmScript?: string;
}

/**
 * One child of `npm start` (a worker or the API), a Node process in its own process group so the
 * supervisor decides the shutdown order.
 *
 * A child that crashes (non-zero exit or killed by a signal we did not send) is restarted with
 * backoff, as an orchestrator would. A child stopped on purpose (SIGTERM from an operator, exit 0)
 * stays stopped: /readyz then names its queue, and `npm run worker:<queue>` brings it back.
 */
export class ManagedProcess {
  private child?: ChildProcess;
  private stopping = false;
  private restartDelayMs = 1_000;
  private restartTimer?: NodeJS.Timeout;

  constructor(private readonly options: ManagedProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const { name, script, env, log } = this.options;
    const startedAt = Date.now();
    const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    this.child = child;
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      const crashed = code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGINT';
      if (!crashed) {
        log(`${name} stopped (${signal ?? `exit ${code}`}); it stays stopped. Start it again with: npm run ${this.options.npmScript ?? name}`);
        return;
      }
      // A child that ran for a while before crashing gets a fresh, short backoff.
      if (Date.now() - startedAt > 60_000) this.restartDelayMs = 1_000;
      log(`${name} crashed (${signal ?? `exit ${code}`}); restarting in ${this.restartDelayMs / 1000} s`);
      this.restartTimer = setTimeout(() => this.start(), this.restartDelayMs);
      this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
    });
  }

  /** SIGTERM, then SIGKILL if the child has not finished its graceful shutdown in time. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.options.log(`${this.options.name} did not stop within ${graceMs / 1000} s; killing it`);
      child.kill('SIGKILL');
    }, graceMs);
    await gone;
    clearTimeout(timer);
  }
}
