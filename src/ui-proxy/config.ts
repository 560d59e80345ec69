import { z } from 'zod';

/**
 * The proxy's own configuration: it holds no key and reads none of the gateway's secrets, so it
 * reads only its own variables (as the acquirer sandbox does).
 */
export const uiProxyEnvSchema = z.object({
  UI_PROXY_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  /** The gateway API that serves /ops and /codec. */
  UI_PROXY_API_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3000'),
  /** The Temporal UI server behind the proxy. */
  UI_PROXY_TEMPORAL_UI_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8080'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export function uiProxyEnv(source: NodeJS.ProcessEnv): z.output<typeof uiProxyEnvSchema> {
  // An empty variable means "not set", as in src/config/env.ts.
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = uiProxyEnvSchema.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`Invalid configuration: ${String(issue.path[0] ?? 'environment')} ${issue.message}`);
  }
  return result.data;
}
