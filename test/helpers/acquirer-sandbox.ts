import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Faults } from '../../src/acquirer/sandbox/faults';
import type { LedgerEntry } from '../../src/acquirer/sandbox/ledger';
import { freePort } from './ports';
import { startNodeProcess, type RunningProcess } from './processes';

export interface AcquirerSandbox {
  /** http://127.0.0.1:PORT: the ACQUIRER_URL of workers under test. */
  url: string;
  port: number;
  process: RunningProcess;
  /** Replaces every fault knob (absent ones go back to their defaults). */
  setFaults(faults: Faults): Promise<void>;
  /** Every row of the sandbox's ledger, oldest first. */
  ledger(): Promise<LedgerEntry[]>;
  /** Stops the process (SIGTERM) and removes the data directory it was given, if this helper made it. */
  stop(): Promise<void>;
}

/**
 * The acquirer sandbox as a real process from dist/ (jest's globalSetup compiles it), on a free
 * port with its ledger in a fresh temporary DATA_DIR unless `env` names one.
 */
export async function startAcquirerSandbox(env: NodeJS.ProcessEnv = {}): Promise<AcquirerSandbox> {
  const port = env.ACQUIRER_SANDBOX_PORT ? Number(env.ACQUIRER_SANDBOX_PORT) : await freePort();
  const ownDataDir = env.DATA_DIR === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'acquirer-sandbox-')) : undefined;
  const child = startNodeProcess('acquirer-sandbox', 'acquirer/sandbox/server.js', {
    ...process.env,
    LOG_LEVEL: 'info',
    ...env,
    ACQUIRER_SANDBOX_PORT: String(port),
    DATA_DIR: env.DATA_DIR ?? ownDataDir,
  });
  const cleanUp = () => {
    if (ownDataDir !== undefined) fs.rmSync(ownDataDir, { recursive: true, force: true });
  };
  try {
    await child.waitForOutput(/"msg":"acquirer sandbox listening/, 30_000);
  } catch (err) {
    await child.stop('SIGKILL');
    cleanUp();
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    process: child,
    async setFaults(faults) {
      const response = await fetch(`${url}/_sandbox/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      });
      if (response.status !== 200) throw new Error(`PUT /_sandbox/faults answered ${response.status}: ${await response.text()}`);
    },
    async ledger() {
      const response = await fetch(`${url}/_sandbox/ledger`);
      if (response.status !== 200) throw new Error(`GET /_sandbox/ledger answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { entries: LedgerEntry[] }).entries;
    },
    async stop() {
      await child.stop();
      cleanUp();
    },
  };
}
