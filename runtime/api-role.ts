import { loadJwtKeySet } from '../adapters/auth/config.ts';
import { httpApiConfigSchema } from '../adapters/http/index.ts';
import { ConfigError, parseEnv } from './config.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { OrgoConnection } from './orgo.ts';
import { servePlatform } from './serve.ts';
import type { Served } from './serve.ts';
import type { Storage } from './stores.ts';

export interface ApiRole extends Served {
  /** Where the server listens, e.g. `http://127.0.0.1:8080` (the real port when PORT=0). */
  readonly url: string;
}

/**
 * The HTTP API's own variables (auth, limits) and its JWT keys, checked before anything starts:
 * a typo then stops the process with exit code 2 and the variable's name, not a stack trace
 * from deep inside the wiring.
 */
export const checkHttpApiConfig = (env: NodeJS.ProcessEnv): void => {
  const config = parseEnv(httpApiConfigSchema, env);
  try {
    loadJwtKeySet(config);
  } catch (error) {
    throw new ConfigError(`invalid configuration: JWT keys: ${error instanceof Error ? error.message : String(error)}`);
  }
};

/**
 * What the api role needs beyond `loadConfig`: storage other processes can share (PGlite has one
 * writer, so it belongs to `dev`), PostgreSQL for the read models, and a valid HTTP API setup.
 */
export const checkApiRoleConfig = (config: Config, env: NodeJS.ProcessEnv): void => {
  if (config.eventStore === 'pglite')
    throw new ConfigError(
      'the api role needs a database other processes share: set DATABASE_URL (PostgreSQL), or EVENTSTORE_URL and DATABASE_URL.\n' +
        'Embedded PGlite (no DATABASE_URL) runs every role in one process: use `openclaw-service dev`.',
    );
  if (!config.DATABASE_URL) throw new ConfigError('the read models live in PostgreSQL: with EVENT_STORE=eventstoredb set DATABASE_URL too');
  checkHttpApiConfig(env);
  if (!config.ENCRYPTION_KEY)
    throw new ConfigError(
      'invalid configuration: ENCRYPTION_KEY: required by the api role: 32 random bytes, base64 (e.g. `openssl rand -base64 32`); it wraps every tenant data key',
    );
};

/**
 * The `api` role: the HTTP API against the shared database, with its projector where
 * PROJECTOR_MODE says (a worker thread by default). The HTTP server comes up first, so /healthz
 * answers 503 while the storage opens. The operator credential is OPERATOR_API_KEY from `env`;
 * unlike `dev`, this role writes no files.
 */
export const startApiRole = async (
  config: Config,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
  shared?: { storage: () => Promise<Storage>; orgo?: () => Promise<OrgoConnection | undefined>; projector?: 'none' },
): Promise<ApiRole> => {
  checkApiRoleConfig(config, env);
  // The thread loads the same configuration, so it opens the same database and schemas.
  const served = await servePlatform(config, log, {
    env,
    projector: shared?.projector ?? config.PROJECTOR_MODE,
    threadEnv: env,
    role: 'api',
    keys: 'required',
    ...(shared ? { storage: shared.storage } : {}),
    ...(shared?.orgo ? { orgo: shared.orgo } : {}),
  });
  return { ...served, url: served.http.url };
};
