import { randomBytes } from 'node:crypto';
import { startHttpServer } from '../adapters/http/server.ts';
import { mintApiKey } from '../commands/tenants/api-keys.ts';
import { loadConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { createPlatform } from './platform.ts';
import type { Platform, PlatformOptions } from './platform.ts';
import { loadMasterKeys } from './encryption.ts';
import { openStorage } from './stores.ts';
import type { Storage } from './stores.ts';

export interface Stack {
  readonly baseUrl: string;
  readonly operatorKey: string;
  readonly poolSize: number;
  readonly platform: Platform;
  readonly storage: Storage;
  readonly schemas: { readonly events: string; readonly readModels: string };
  /** Stops the HTTP server, the platform and the storage (the schemas stay: the caller owns them). */
  close(): Promise<void>;
}

/**
 * The whole platform on PostgreSQL in the given schemas, with the HTTP API on a free loopback port
 * and a fresh operator key: what the API tests and the API benchmarks run against.
 */
export const startStack = async (options: {
  databaseUrl: string;
  schemas: { events: string; readModels: string };
  log: Logger;
  env?: Record<string, string>;
  poolSize?: number;
  /** Where the projector runs (default: inline, on the API's event loop). */
  projector?: PlatformOptions['projector'];
}): Promise<Stack> => {
  const { events, readModels } = options.schemas;
  const operatorKey = mintApiKey().key;
  const storageEnv = {
    DATABASE_URL: options.databaseUrl,
    EVENT_STORE: 'postgres',
    EVENT_STORE_SCHEMA: events,
    READ_MODEL_SCHEMA: readModels,
    PORT: '0',
    // a master key of this stack's own unless the caller brings one
    ENCRYPTION_KEY: options.env?.ENCRYPTION_KEY ?? randomBytes(32).toString('base64'),
    ...(options.poolSize ? { PG_POOL_SIZE: String(options.poolSize) } : {}),
  };
  const config = loadConfig(storageEnv);
  const storage = await openStorage(config, 'api', await loadMasterKeys(config, 'required'));
  const platform = await createPlatform({
    storage,
    eventSchema: events,
    readModelSchema: readModels,
    log: options.log,
    env: { OPERATOR_API_KEY: operatorKey, ...options.env },
    projector: options.projector ?? 'inline',
    projectorLingerMs: config.PROJECTOR_LINGER_MS,
    threadEnv: { ...options.env, ...storageEnv, LOG_LEVEL: 'error' },
  });
  let ready = false;
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready }) });
  platform.mount(http.app);
  ready = true;
  return {
    baseUrl: http.url,
    operatorKey,
    poolSize: config.PG_POOL_SIZE,
    platform,
    storage,
    schemas: options.schemas,
    async close() {
      await http.close();
      await platform.stop();
      await storage.close();
    },
  };
};
