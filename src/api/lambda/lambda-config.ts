import { ConfigError, parseEnv, type Env } from '../../config/env';

/**
 * The front door's configuration on Lambda, validated once per container at init: a bad variable
 * is named before the first request rather than failing in the middle of one.
 *
 * In production the database must be PostgreSQL: a SQLite file would live in the container's
 * /tmp, one per container, lost when Lambda recycles it, and never seen by the workers.
 */
export function lambdaEnv(source: NodeJS.ProcessEnv): Env {
  const env = parseEnv(source);
  if (source.NODE_ENV === 'production' && env.DATABASE_URL === undefined) {
    throw new ConfigError('DATABASE_URL', 'must be set to a postgres:// URL with NODE_ENV=production: the API on Lambda cannot use SQLite (each container would have a database of its own in /tmp, which the workers never see)');
  }
  return env;
}
