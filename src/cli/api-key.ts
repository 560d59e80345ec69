/**
 * `npm run --silent api-key -- --merchant <id> [--scope a,b]`: creates a merchant's API key and
 * prints the key and nothing else (`KEY=$(npm run --silent api-key -- --merchant m_1)`): a secret
 * key `sk_test_…` without --scope, a restricted key `rk_test_…` with the scopes named.
 * `--list [--merchant <id>]` shows keys (redacted, never the key); `--revoke <key id>` revokes one.
 * The key is shown once: only its hash is stored (src/api/auth/api-keys.ts).
 */
import { parseArgs } from 'node:util';
import { ApiKeyError, ApiKeys, MERCHANT_SCOPES } from '../api/auth/api-keys';
import { SCOPES, type Scope } from '../api/auth/verify-token';
import { loadEnv } from '../config/env';
import { openDb } from '../storage/open-db';

const USAGE = `usage: npm run --silent api-key -- --merchant <id> [--scope ${MERCHANT_SCOPES.join(',')}]
       npm run --silent api-key -- --list [--merchant <id>]
       npm run --silent api-key -- --revoke <key id>
  --merchant  the merchant the key speaks for
  --scope     a restricted key (rk_test_…) with these scopes; without it, a secret key (sk_test_…) with all of them
  --list      the keys (id, kind, redacted key, scopes, created, revoked), one per line
  --revoke    revokes the key with this id (key_…); effective on the next request`;

class UsageError extends Error {}

function parseScopes(text: string): Scope[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = list.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new UsageError(`unknown scope ${unknown.join(', ')}; an API key may carry ${MERCHANT_SCOPES.join(', ')}`);
  if (list.length === 0) throw new UsageError('--scope must name at least one scope');
  return list as Scope[];
}

async function main(): Promise<void> {
  let values: { merchant?: string; scope?: string; list?: boolean; revoke?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { merchant: { type: 'string' }, scope: { type: 'string' }, list: { type: 'boolean' }, revoke: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return;
  }
  const modes = [values.list, values.revoke !== undefined, values.scope !== undefined || (!values.list && values.revoke === undefined)].filter(Boolean).length;
  if (modes > 1 || (values.revoke !== undefined && values.merchant !== undefined)) throw new UsageError('choose one of: create (--merchant), --list, --revoke');
  const env = loadEnv();
  const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
  try {
    const keys = new ApiKeys(db);
    if (values.list) {
      for (const k of await keys.list(values.merchant)) {
        const revoked = k.revokedAt ? `revoked ${new Date(k.revokedAt).toISOString()}` : 'active';
        process.stdout.write(`${k.id}\t${k.merchantId}\t${k.kind}\t${k.redacted}\t${k.scopes.join(',')}\t${new Date(k.createdAt).toISOString()}\t${revoked}\n`);
      }
      return;
    }
    if (values.revoke !== undefined) {
      if (!(await keys.revoke(values.revoke))) throw new UsageError(`no API key ${values.revoke.slice(0, 80)}`);
      process.stderr.write(`api-key: ${values.revoke} revoked\n`);
      return;
    }
    if (values.merchant === undefined) throw new UsageError('--merchant <id> is required');
    const { key } = await keys.create(values.merchant, values.scope === undefined ? undefined : parseScopes(values.scope));
    process.stdout.write(`${key}\n`);
  } catch (err) {
    if (err instanceof ApiKeyError) throw new UsageError(err.message);
    throw err;
  } finally {
    await db.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`api-key: ${err.message}\n`);
  if (err instanceof UsageError) process.stderr.write(`${USAGE}\n`);
  process.exitCode = 1;
});
