/**
 * `npm run temporal:setup`: prepares an existing Temporal cluster (TEMPORAL_ADDRESS) for the
 * gateway by registering the payment search attributes. docker-compose.yml runs it once before
 * the workers start; the embedded dev server does not need it (it registers them at start-up).
 */
import { connectCloseSafe } from '../temporal/close-safe-connection';
import { loadEnv } from '../config/env';
import { temporalAddress, temporalCredentials } from '../temporal/connection';
import { ensureSearchAttributes } from '../temporal/search-attributes';

async function main(): Promise<void> {
  const env = loadEnv();
  const address = temporalAddress(env);
  const deadline = Date.now() + 120_000;
  // In compose the cluster may still be creating its schema; wait for it rather than fail.
  for (;;) {
    try {
      const connection = await connectCloseSafe({ address, ...temporalCredentials(env) });
      try {
        const added = await ensureSearchAttributes(connection, env.TEMPORAL_NAMESPACE);
        console.log(added.length ? `registered search attributes: ${added.join(', ')}` : 'search attributes already registered');
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw err;
      console.log(`waiting for Temporal at ${address}: ${(err as Error).message.split('\n')[0]}`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}

main().catch((err: Error) => {
  console.error(`temporal:setup failed: ${err.message}`);
  process.exit(1);
});
