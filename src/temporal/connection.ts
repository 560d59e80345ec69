import fs from 'node:fs';
import { Client, type ConnectionOptions } from '@temporalio/client';
import { lazyCloseSafe } from './close-safe-connection';
import type { DataConverter } from '@temporalio/common';
import type { Env } from '../config/env';

/** Where to reach Temporal: the configured cluster, or the embedded dev server's port. */
export function temporalAddress(env: Env): string {
  return env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.TEMPORAL_DEV_PORT}`;
}

/**
 * TLS towards Temporal, shared by clients and workers: server-only TLS (`TEMPORAL_TLS=true`,
 * optional CA and server name) for a self-hosted cluster, mTLS (client certificate and key)
 * for a cluster that authenticates workers or for Temporal Cloud.
 */
export function temporalTls(env: Env): ConnectionOptions['tls'] {
  const mtls = env.TEMPORAL_TLS_CERT !== undefined && env.TEMPORAL_TLS_KEY !== undefined;
  // An API key travels as a bearer token: never without TLS.
  if (!env.TEMPORAL_TLS && !mtls && env.TEMPORAL_TLS_CA === undefined && env.TEMPORAL_API_KEY === undefined) return undefined;
  return {
    serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME,
    serverRootCACertificate: env.TEMPORAL_TLS_CA ? fs.readFileSync(env.TEMPORAL_TLS_CA) : undefined,
    clientCertPair: mtls
      ? { crt: fs.readFileSync(env.TEMPORAL_TLS_CERT!), key: fs.readFileSync(env.TEMPORAL_TLS_KEY!) }
      : undefined,
  };
}

/** How every process authenticates to Temporal: TLS (with a client certificate for mTLS) and, for Temporal Cloud, an API key. */
export function temporalCredentials(env: Env): { tls: ConnectionOptions['tls']; apiKey?: string } {
  return { tls: temporalTls(env), ...(env.TEMPORAL_API_KEY !== undefined ? { apiKey: env.TEMPORAL_API_KEY } : {}) };
}

/**
 * A client that connects on first use, so the API can start (and answer /healthz and a 503 on
 * /readyz naming Temporal) while Temporal is still coming up or is down.
 */
export function createLazyClient(env: Env, dataConverter?: DataConverter, options: Pick<ConnectionOptions, 'interceptors'> = {}): Client {
  const connection = lazyCloseSafe({ address: temporalAddress(env), ...temporalCredentials(env), ...options });
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, dataConverter });
}
