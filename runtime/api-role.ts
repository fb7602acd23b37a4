import { loadJwtKeySet } from '../adapters/auth/config.ts';
import { httpApiConfigSchema } from '../adapters/http/index.ts';
import { startHttpServer } from '../adapters/http/server.ts';
import { ConfigError, parseEnv } from './config.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { createPlatform } from './platform.ts';
import type { Platform } from './platform.ts';
import { openStorage } from './stores.ts';
import type { Storage } from './stores.ts';

export interface ApiRole {
  /** Where the server listens, e.g. `http://127.0.0.1:8080` (the real port when PORT=0). */
  readonly url: string;
  readonly storage: Storage;
  readonly platform: Platform;
  stop(): Promise<void>;
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
    throw new ConfigError(`invalid configuration:\n  JWT keys: ${error instanceof Error ? error.message : String(error)}`);
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
};

/**
 * The `api` role: the HTTP API against the shared database, with its projector where
 * PROJECTOR_MODE says (a worker thread by default). The HTTP server comes up first, so /healthz
 * answers 503 while the storage opens. The operator credential is OPERATOR_API_KEY from `env`;
 * unlike `dev`, this role writes no files.
 */
export const startApiRole = async (config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ApiRole> => {
  checkApiRoleConfig(config, env);
  let phase: 'starting' | 'ready' | 'stopping' = 'starting';
  const http = await startHttpServer({
    port: config.PORT,
    host: config.HOST,
    readiness: () => ({ ready: phase === 'ready', detail: { phase } }),
  });
  log.info({ url: http.url }, 'http listening');
  let storage: Storage | undefined;
  let platform: Platform;
  try {
    storage = await openStorage(config);
    platform = await createPlatform({
      storage,
      eventSchema: config.EVENT_STORE_SCHEMA,
      readModelSchema: config.READ_MODEL_SCHEMA,
      log,
      env,
      projector: config.PROJECTOR_MODE,
      projectorLingerMs: config.PROJECTOR_LINGER_MS,
      // The thread loads the same configuration, so it opens the same database and schemas.
      threadEnv: env,
    });
    platform.mount(http.app);
  } catch (error) {
    await storage?.close();
    await http.close();
    throw error;
  }
  phase = 'ready';
  log.info({ store: storage.describe, projector: config.PROJECTOR_MODE }, 'ready');
  const opened = storage;
  let stopping: Promise<void> | undefined;
  return {
    url: http.url,
    storage: opened,
    platform,
    stop: () =>
      (stopping ??= (async () => {
        phase = 'stopping';
        await http.close();
        await platform.stop();
        await opened.close();
        log.info('stopped cleanly');
      })()),
  };
};
