import pg from 'pg';
import type { Config } from './config.ts';
import { ConfigError } from './config.ts';
import { redactUrl } from './config-schema.ts';

/**
 * The databases the configuration names answer, before any role starts: an unreachable
 * DATABASE_URL stops the process with one line naming it (exit code 2), not a stack trace
 * after a minute of retries.
 */
export const checkReachable = async (config: Config, timeoutMs = 5_000): Promise<void> => {
  if (!config.DATABASE_URL || config.eventStore === 'pglite') return;
  const client = new pg.Client({ connectionString: config.DATABASE_URL, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    const why = error instanceof Error ? ('code' in error && typeof error.code === 'string' ? `${error.code}: ${error.message}` : error.message) : String(error);
    throw new ConfigError(`invalid configuration: DATABASE_URL: cannot reach ${redactUrl(config.DATABASE_URL)} (${why.split('\n')[0]})`);
  } finally {
    await client.end().catch(() => undefined);
  }
};
