/**
 * Process lifecycle shared by the API and the workers.
 *
 * `onShutdown` runs its handler once, on the first SIGINT or SIGTERM, and ignores the rest: under
 * `npm start` a Ctrl-C can arrive both from the terminal and from the supervisor, and a second
 * signal must not cut a graceful shutdown short.
 */
export function onShutdown(handler: (reason: string) => void): void {
  let called = false;
  const once = (reason: string) => {
    if (called) return;
    called = true;
    handler(reason);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => once(signal));
  watchSupervisor(() => once('supervisor exited'));
}

/**
 * Under `npm start` the supervisor passes its pid; if the supervisor dies without stopping us
 * (SIGKILL), we notice we were re-parented and stop rather than linger as an orphan.
 */
function watchSupervisor(onGone: () => void): void {
  const supervisor = Number(process.env.GATEWAY_SUPERVISOR_PID);
  if (!Number.isInteger(supervisor) || supervisor <= 0) return;
  const timer = setInterval(() => {
    if (process.ppid !== supervisor) {
      clearInterval(timer);
      onGone();
    }
  }, 1_000);
  timer.unref();
}

/** Entry points end here: one JSON line with the reason, and a non-zero exit. */
export function exitOnFailure(service: string, promise: Promise<void>): void {
  promise.catch((err: Error) => {
    process.stderr.write(`${JSON.stringify({ level: 60, service, msg: `${service} failed`, err: err.message })}\n`);
    process.exit(1);
  });
}
