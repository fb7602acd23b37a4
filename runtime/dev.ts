import { startHttpServer } from '../adapters/http/server.ts';
import type { HttpServer } from '../adapters/http/server.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { loadOrCreateOperatorKey } from './operator-key.ts';
import { createPlatform } from './platform.ts';
import type { Platform } from './platform.ts';
import { openStorage } from './stores.ts';
import type { Storage } from './stores.ts';

export interface DevPlatform {
  readonly http: HttpServer;
  readonly storage: Storage;
  readonly platform: Platform;
  readonly operatorKey: { key: string; created: boolean; file: string | undefined };
  stop(): Promise<void>;
}

/**
 * The embedded default: every role in one process on PGlite in DATA_DIR. The HTTP server comes
 * up first so /healthz answers (503 "starting") while the database opens.
 */
export const startDev = async (config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<DevPlatform> => {
  let phase: 'starting' | 'ready' | 'stopping' = 'starting';
  const http = await startHttpServer({
    port: config.PORT,
    host: config.HOST,
    readiness: () => ({ ready: phase === 'ready', detail: { phase } }),
  });
  log.info({ url: http.url }, 'http listening');
  let storage: Storage | undefined;
  let platform: Platform;
  let operatorKey: DevPlatform['operatorKey'];
  try {
    operatorKey = await loadOrCreateOperatorKey(config.DATA_DIR, env.OPERATOR_API_KEY || undefined);
    storage = await openStorage(config);
    platform = await createPlatform({
      storage,
      eventSchema: config.EVENT_STORE_SCHEMA,
      readModelSchema: config.READ_MODEL_SCHEMA,
      log,
      env: { ...env, OPERATOR_API_KEY: operatorKey.key },
      projector: 'inline',
      projectorLingerMs: config.PROJECTOR_LINGER_MS,
    });
    platform.mount(http.app);
  } catch (error) {
    await storage?.close();
    await http.close();
    throw error;
  }
  phase = 'ready';
  log.info({ store: storage.describe }, 'ready');
  let stopping: Promise<void> | undefined;
  const opened = storage;
  return {
    http,
    storage: opened,
    platform,
    operatorKey,
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

/**
 * Ctrl-C or SIGTERM stops cleanly; another one more than a second later exits at once (a wrapper
 * that relays the terminal's Ctrl-C can deliver the same press twice).
 */
export const stopOnSignals = (stop: () => Promise<void>, log: Logger) => {
  let signalledAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalledAt !== undefined) {
      if (Date.now() - signalledAt < 1_000) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    signalledAt = Date.now();
    log.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
};
