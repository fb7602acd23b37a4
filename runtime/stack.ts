import { randomBytes } from 'node:crypto';
import { startHttpServer } from '../adapters/http/server.ts';
import type { HttpServer } from '../adapters/http/server.ts';
import type { Resolve } from '../adapters/openclaw/address-guard.ts';
import { startAgents } from './agents.ts';
import type { RunningAgents } from './agents.ts';
import { mintApiKey } from '../commands/tenants/api-keys.ts';
import { loadConfig } from './config.ts';
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
import { openStorage } from './stores.ts';
import type { Storage } from './stores.ts';
import { watchDatabase } from './telemetry.ts';

export interface Stack {
  readonly baseUrl: string;
  /** The HTTP server (to attach WebSocket pushers to, as the api role does). */
  readonly http: HttpServer;
  readonly operatorKey: string;
  readonly poolSize: number;
  readonly platform: Platform;
  readonly storage: Storage;
  readonly schemas: { readonly events: string; readonly readModels: string };
  /** The VM provider when ORGO_API_KEY (and ORGO_API_URL) are in `env`. */
  readonly orgo: OrgoConnection | undefined;
  /** The provisioning saga, when asked for. */
  readonly saga: RunningSaga | undefined;
  /** Agent dispatch, when asked for. */
  readonly agents: RunningAgents | undefined;
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
  /** Run the provisioning saga in this process too, on the Orgo that `env` names (ORGO_API_URL, ORGO_API_KEY). */
  saga?: boolean;
  /** Run the bot delivery in this process too, on the platforms `env` names (TELEGRAM_API_ROOT, WHATSAPP_GRAPH_URL). */
  bots?: boolean;
  /** Run agent dispatch in this process too (AGENT_* variables from `env`), its bridge endpoint on the API's server. */
  agents?: boolean;
  /** How agent dispatch resolves a tenant gateway's host name (tests bring their own DNS). */
  resolveGatewayHost?: Resolve;
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
  const storage = await openStorage(config, 'api', { master: await loadMasterKeys(config, 'required') });
  const unwatchDatabase = watchDatabase(storage);
  const orgo = await connectOrgo(options.env ?? {}, options.log, { simulate: false, provisions: options.saga === true });
  let ready = false;
  // listening first: the platforms are told the webhook URL when a bot connects
  const http = await startHttpServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready }), trustProxy: options.env?.TRUST_PROXY });
  const platform = await createPlatform({
    vms: orgo?.vms,
    channels: channelsOf(options.env ?? {}, http.url).platforms,
    storage,
    eventSchema: events,
    readModelSchema: readModels,
    log: options.log,
    env: { OPERATOR_API_KEY: operatorKey, ...options.env },
    projector: options.projector ?? 'inline',
    projectorLingerMs: config.PROJECTOR_LINGER_MS,
    threadEnv: { ...options.env, ...storageEnv, LOG_LEVEL: 'error' },
  });
  const saga =
    options.saga && orgo
      ? await startSaga({ storage, shell: platform.ports.shell, vms: orgo.vms, eventSchema: events, readModelSchema: readModels, env: options.env ?? {}, log: options.log })
      : undefined;
  const bots = options.bots
    ? await startBots({ storage, shell: platform.ports.shell, eventSchema: events, env: options.env ?? {}, log: options.log, journalFile: options.env?.BOTS_SEND_JOURNAL ? journalFileOf(options.env, '.') : null })
    : undefined;
  platform.mount(http.app);
  const agents = options.agents
    ? await startAgents({ storage, ports: platform.ports, reads: platform.reads, server: http.server, env: options.env ?? {}, log: options.log, ...(options.resolveGatewayHost ? { resolveGatewayHost: options.resolveGatewayHost } : {}) })
    : undefined;
  ready = true;
  return {
    baseUrl: http.url,
    http,
    operatorKey,
    poolSize: config.PG_POOL_SIZE,
    platform,
    storage,
    schemas: options.schemas,
    orgo,
    saga,
    agents,
    async close() {
      await agents?.stop();
      await http.close();
      await bots?.stop();
      await saga?.stop();
      await platform.stop();
      await orgo?.close();
      unwatchDatabase();
      await storage.close();
    },
  };
};
