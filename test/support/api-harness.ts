import { startHttpServer } from '../../adapters/http/server.ts';
import { mintApiKey } from '../../commands/tenants/api-keys.ts';
import { loadConfig } from '../../runtime/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createPlatform } from '../../runtime/platform.ts';
import type { Platform } from '../../runtime/platform.ts';
import { openStorage } from '../../runtime/stores.ts';
import type { Storage } from '../../runtime/stores.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from './postgres.ts';

export interface ApiHarness {
  readonly baseUrl: string;
  readonly operatorKey: string;
  readonly platform: Platform;
  readonly storage: Storage;
  readonly schemas: { readonly events: string; readonly readModels: string };
  close(): Promise<void>;
}

/**
 * The real stack on the local PostgreSQL: event store, projector, read models under RLS and the
 * HTTP API on a free loopback port, in schemas of its own that `close()` drops.
 */
export const startApiHarness = async (env: Record<string, string> = {}): Promise<ApiHarness> => {
  const events = uniqueSchema('api_ev');
  const readModels = uniqueSchema('api_rm');
  const operatorKey = mintApiKey().key;
  const config = loadConfig({ DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE: 'postgres', EVENT_STORE_SCHEMA: events, PG_POOL_SIZE: '6', PORT: '0' });
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const storage = await openStorage(config);
  const platform = await createPlatform({
    storage,
    eventSchema: events,
    readModelSchema: readModels,
    log,
    env: { OPERATOR_API_KEY: operatorKey, JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long', ...env },
    projector: true,
  });
  let ready = false;
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready }) });
  platform.mount(http.app);
  ready = true;
  return {
    baseUrl: http.url,
    operatorKey,
    platform,
    storage,
    schemas: { events, readModels },
    async close() {
      await http.close();
      await platform.stop();
      await storage.close();
      await dropSchema(events);
      await dropSchema(readModels);
    },
  };
};
