/** `npm run acquirer-sandbox`: the acquirer sandbox on ACQUIRER_SANDBOX_PORT, its ledger under DATA_DIR. */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import { createLogger } from '../../logging/logger';
import { exitOnFailure, onShutdown } from '../../process/lifecycle';
import { createSandboxApp } from './app';
import { FaultInjector, parseFaultsJson, type Faults } from './faults';
import { Ledger } from './ledger';

/**
 * The sandbox's own configuration. It is a separate service standing in for an acquirer, so it
 * reads only its own variables (same names and defaults as src/config/env.ts where they overlap).
 */
const sandboxEnvSchema = z.object({
  ACQUIRER_SANDBOX_PORT: z.coerce.number().int().min(1).max(65535).default(4100),
  DATA_DIR: z.string().trim().min(1).default('data').transform((p) => path.resolve(p)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Fault knobs from the start, JSON as for PUT /_sandbox/faults, e.g. {"errorRate":0.2}. */
  ACQUIRER_SANDBOX_FAULTS: z.string().trim().optional(),
});

const LEDGER_FILE = 'acquirer-sandbox.db';
const SHUTDOWN_GRACE_MS = 10_000;

function sandboxEnv(source: NodeJS.ProcessEnv): z.output<typeof sandboxEnvSchema> & { faults: Faults } {
  // An empty variable means "not set", as in src/config/env.ts.
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = sandboxEnvSchema.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`Invalid configuration: ${String(issue.path[0] ?? 'environment')} ${issue.message}`);
  }
  const faultsJson = result.data.ACQUIRER_SANDBOX_FAULTS;
  let faults: Faults = {};
  if (faultsJson !== undefined) {
    try {
      faults = parseFaultsJson(faultsJson);
    } catch (err) {
      throw new Error(`Invalid configuration: ACQUIRER_SANDBOX_FAULTS ${(err as Error).message}`);
    }
  }
  return { ...result.data, faults };
}

async function main(): Promise<void> {
  const env = sandboxEnv(process.env);
  const logger = createLogger({ name: 'acquirer-sandbox', level: env.LOG_LEVEL });
  const ledgerFile = path.join(env.DATA_DIR, LEDGER_FILE);
  const ledger = Ledger.open(ledgerFile);
  const faults = new FaultInjector(env.faults);
  const app = createSandboxApp({ ledger, faults, logger });

  const server = app.listen(env.ACQUIRER_SANDBOX_PORT);
  // Answers given while shutting down close their connection: a keep-alive connection left open
  // would hold server.close() up until the client drops it.
  let closing = false;
  const inFlight = new Set<ServerResponse>();
  server.on('request', (_req, res: ServerResponse) => {
    if (closing) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  await once(server, 'listening');
  logger.info(
    { port: env.ACQUIRER_SANDBOX_PORT, ledger: ledgerFile, faults: faults.current() },
    `acquirer sandbox listening on http://localhost:${env.ACQUIRER_SANDBOX_PORT}`,
  );

  onShutdown((reason) => {
    logger.info({ reason }, 'acquirer sandbox shutting down: finishing in-flight requests');
    // Calls waiting out an injected hang or latency answer now (503 for a hang), so a
    // 60-second hang does not hold the shutdown up.
    closing = true;
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    faults.shutdown();
    server.close(() => {
      clearTimeout(backstop);
      ledger.close();
      logger.info('acquirer sandbox stopped');
    });
    server.closeIdleConnections();
    const backstop = setTimeout(() => {
      logger.warn({ connections: inFlight.size }, 'acquirer sandbox: connections still open after the grace period, closing them');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    backstop.unref();
  });
}

exitOnFailure('acquirer-sandbox', main());
