/** The ports a test gives the stack `npm start` runs (src/cli/start.ts). */
export interface NpmStartPorts {
  api: number;
  temporal: number;
  ui: number;
  acquirer: number;
  /** WORKER_METRICS_BASE_PORT: the first of the processes' metrics ports, or 0 for none. */
  metrics: number;
}

/**
 * The environment of `npm start` under test: its own ports and data directory, and nothing
 * inherited that would point it at another stack (TEMPORAL_ADDRESS, ACQUIRER_URL), so it starts
 * its own dev server and sandbox as `npm start` does on a fresh checkout.
 */
export function npmStartEnv(ports: NpmStartPorts, dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(ports.api),
    TEMPORAL_DEV_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    ACQUIRER_SANDBOX_PORT: String(ports.acquirer),
    WORKER_METRICS_BASE_PORT: String(ports.metrics),
    DATA_DIR: dataDir,
    ...extra,
  };
  delete env.TEMPORAL_ADDRESS;
  delete env.ACQUIRER_URL;
  return env;
}
