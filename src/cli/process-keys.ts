import type { Env } from '../config/env';
import type { TaskQueueName } from '../temporal/task-queues';
import { masterKeyFile, payloadKeyFile } from '../vault/keys/open-key-provider';

export type GatewayProcess = 'api' | 'acquirer-sandbox' | 'ui-proxy' | TaskQueueName;

/** Variables that name or carry key material; each process gets back only the ones its role needs. */
const KEY_VARIABLES = ['MASTER_KEY_FILE', 'PAYLOAD_KEY_FILE'] as const;

/**
 * The environment `npm start` gives one process (docs/vault.md, "Keys per process"): every
 * gateway process gets the Temporal payload key file; only the vault worker gets the master key
 * file, which wraps card data, the intake key and the fingerprint secret; the acquirer sandbox,
 * a stand-in for a separate company, and the UI proxy (it asks the API about sessions) get no key at all. The API seals to public keys it reads
 * from the database. (On one machine under one user the operating system does not stop a
 * process from reading a file it was not told about; compose gives each service its own volumes,
 * and production uses KMS with a role per service.)
 */
export function processEnv(role: GatewayProcess, base: NodeJS.ProcessEnv, env: Env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...base };
  for (const name of KEY_VARIABLES) delete out[name];
  if (role === 'acquirer-sandbox' || role === 'ui-proxy') return out;
  out.PAYLOAD_KEY_FILE = payloadKeyFile(env);
  if (role === 'vault') out.MASTER_KEY_FILE = masterKeyFile(env);
  return out;
}
