import { startHttpServer } from '../adapters/http/server.ts';
import type { HttpServer } from '../adapters/http/server.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { createPlatform } from './platform.ts';
import type { Platform, PlatformOptions } from './platform.ts';
import { openStorage } from './stores.ts';
import type { Storage } from './stores.ts';

export interface Served {
  readonly http: HttpServer;
  readonly storage: Storage;
  readonly platform: Platform;
  /** HTTP first (no new requests), then the platform, then the storage; once, however often called. */
  stop(): Promise<void>;
}

/**
 * The HTTP server first, so /healthz answers 503 "starting" while the storage opens; then the
 * storage and the platform on it. A failure on the way closes what was opened and rethrows.
 */
export const servePlatform = async (
  config: Config,
  log: Logger,
  options: {
    /** The HTTP API's environment; a function runs inside the start-up (its failure closes the server too). */
    readonly env: Record<string, string | undefined> | (() => Promise<Record<string, string | undefined>>);
    readonly projector: PlatformOptions['projector'];
    readonly threadEnv?: Record<string, string | undefined>;
    /** Names this process's database connections (see openStorage). */
    readonly role: string;
    /** Storage opened by the caller (roles sharing one process): used as is, and left open on stop. */
    readonly storage?: () => Promise<Storage>;
  },
): Promise<Served> => {
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
    const env = typeof options.env === 'function' ? await options.env() : options.env;
    storage = options.storage ? await options.storage() : await openStorage(config, options.role, log);
    platform = await createPlatform({
      storage,
      eventSchema: config.EVENT_STORE_SCHEMA,
      readModelSchema: config.READ_MODEL_SCHEMA,
      log,
      env,
      projector: options.projector,
      projectorLingerMs: config.PROJECTOR_LINGER_MS,
      ...(options.threadEnv ? { threadEnv: options.threadEnv } : {}),
    });
    platform.mount(http.app);
  } catch (error) {
    if (!options.storage) await storage?.close();
    await http.close();
    throw error;
  }
  phase = 'ready';
  log.info({ store: storage.describe, projector: options.projector }, 'ready');
  const opened = storage;
  let stopping: Promise<void> | undefined;
  return {
    http,
    storage: opened,
    platform,
    stop: () =>
      (stopping ??= (async () => {
        phase = 'stopping';
        await http.close();
        await platform.stop();
        if (!options.storage) await opened.close();
        log.info('stopped cleanly');
      })()),
  };
};
