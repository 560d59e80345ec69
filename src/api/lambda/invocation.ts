import { AsyncLocalStorage } from 'node:async_hooks';

/** The Lambda invocation being served: what every log line and every wait of its request must know. */
export interface Invocation {
  awsRequestId: string;
  /** When Lambda stops the invocation (epoch ms), from `context.getRemainingTimeInMillis()`. */
  deadline: number;
}

const current = new AsyncLocalStorage<Invocation>();

/** Runs `fn` as the invocation: the logger, the Temporal deadline and the payment wait read it. */
export function runInvocation<T>(invocation: Invocation, fn: () => Promise<T>): Promise<T> {
  return current.run(invocation, fn);
}

export function currentInvocation(): Invocation | undefined {
  return current.getStore();
}

/** The log fields of the running invocation: its request id on every line (pino's mixin). */
export function invocationLogFields(): object {
  const invocation = current.getStore();
  return invocation ? { awsRequestId: invocation.awsRequestId } : {};
}
