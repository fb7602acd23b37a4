import path from 'node:path';
import { startHttpServer } from '../adapters/http/server.ts';
import type { HttpServer } from '../adapters/http/server.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { journalFileOf, startBots } from './bots-role.ts';
import { channelsOf } from './channels.ts';
import { connectOrgo } from './orgo.ts';
import type { OrgoConnection } from './orgo.ts';
import { createPlatform } from './platform.ts';
import type { Platform, PlatformOptions } from './platform.ts';
import { startSaga } from './saga.ts';
import type { RunningSaga } from './saga.ts';
import { loadMasterKeys } from './encryption.ts';
import type { KeySource } from './encryption.ts';
import { openStorage } from './stores.ts';
import type { Storage } from './stores.ts';
import { watchDatabase } from './telemetry.ts';

export interface Served {
  readonly http: HttpServer;
  readonly storage: Storage;
  readonly platform: Platform;
  /** The VM provider, when this process has one (Orgo, or the embedded default's simulated Orgo). */
  readonly orgo: OrgoConnection | undefined;
  /** The provisioning saga, when this process runs it (the embedded default). */
  readonly saga: RunningSaga | undefined;
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
    /**
     * Run the provisioning saga here too (the embedded default), on Orgo or — without
     * ORGO_API_KEY — on a simulated Orgo. Without it, an Orgo connection serves screenshots only.
     */
    readonly saga?: boolean;
    /** Run the bot delivery (the `bots` role's consumer) here too: the embedded default. */
    readonly bots?: boolean;
    /** Where the master keys come from (see runtime/encryption.ts). */
    readonly keys: KeySource;
    /** Storage opened by the caller (roles sharing one process): used as is, and left open on stop. */
    readonly storage?: () => Promise<Storage>;
    /** The Orgo connection of the caller (roles sharing one process): used as is, and left open on stop. */
    readonly orgo?: () => Promise<OrgoConnection | undefined>;
  },
): Promise<Served> => {
  let phase: 'starting' | 'ready' | 'stopping' = 'starting';
  const http = await startHttpServer({
    port: config.PORT,
    host: config.HOST,
    readiness: () => ({ ready: phase === 'ready', detail: { phase } }),
    ready: { maxLagSeconds: config.READY_MAX_LAG_SECONDS, maxLagEvents: config.READY_MAX_LAG_EVENTS },
    trustProxy: config.TRUST_PROXY,
  });
  log.info({ url: http.url }, 'http listening');
  let storage: Storage | undefined;
  let unwatchDatabase: (() => void) | undefined;
  let platform: Platform | undefined;
  let orgo: OrgoConnection | undefined;
  let saga: RunningSaga | undefined;
  let bots: { stop(): Promise<void> } | undefined;
  try {
    const env = typeof options.env === 'function' ? await options.env() : options.env;
    storage = options.storage ? await options.storage() : await openStorage(config, options.role, { master: await loadMasterKeys(config, options.keys), log });
    // a storage of its own is watched here; one handed in is watched by whoever opened it
    if (!options.storage) unwatchDatabase = watchDatabase(storage);
    // the embedded default's simulated Orgo keeps its computers beside the data they belong to
    // only where the saga runs here is ORGO_WORKSPACE_ID checked at start-up and in readiness (screenshots alone need neither)
    orgo = options.orgo
      ? await options.orgo()
      : await connectOrgo(env, log, { simulate: options.saga === true, provisions: options.saga === true, stateFile: path.join(config.DATA_DIR, 'orgo-simulator.json') });
    platform = await createPlatform({
      vms: orgo?.vms,
      channels: channelsOf(env, http.url).platforms,
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
    if (options.saga && orgo)
      saga = await startSaga({
        storage,
        shell: platform.ports.shell,
        vms: orgo.vms,
        eventSchema: config.EVENT_STORE_SCHEMA,
        readModelSchema: config.READ_MODEL_SCHEMA,
        env,
        log,
      });
    if (options.bots)
      bots = await startBots({ storage, shell: platform.ports.shell, eventSchema: config.EVENT_STORE_SCHEMA, env, log, journalFile: journalFileOf(env, config.DATA_DIR) });
  } catch (error) {
    await saga?.stop();
    await platform?.stop();
    if (!options.orgo) await orgo?.close();
    unwatchDatabase?.();
    if (!options.storage) await storage?.close();
    await http.close();
    throw error;
  }
  phase = 'ready';
  log.info({ store: storage.describe, projector: options.projector, orgo: orgo?.describe }, 'ready');
  const opened = storage;
  const served = platform;
  let stopping: Promise<void> | undefined;
  return {
    http,
    storage: opened,
    platform: served,
    orgo,
    saga,
    stop: () =>
      (stopping ??= (async () => {
        phase = 'stopping';
        await http.close();
        await bots?.stop();
        await saga?.stop();
        await served.stop();
        if (!options.orgo) await orgo?.close();
        unwatchDatabase?.();
        if (!options.storage) await opened.close();
        log.info('stopped cleanly');
      })()),
  };
};
