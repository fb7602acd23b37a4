import { loadJwtKeySet } from '../adapters/auth/config.ts';
import type { Auth } from '../adapters/auth/index.ts';
import { authOf, httpApiConfigSchema } from '../adapters/http/index.ts';
import { startHttpServer } from '../adapters/http/server.ts';
import { createInProcessLiveFeed } from '../adapters/live/in-process.ts';
import { createKafkaLiveFeed } from '../adapters/live/kafka.ts';
import { closeRedisClient, createRedisClient } from '../adapters/limits/index.ts';
import { migrateReadModels } from '../adapters/projections/projector.ts';
import { apiKeyLookup } from '../adapters/projections/read-side.ts';
import { wsConfigSchema } from '../adapters/ws/config.ts';
import { createPusher } from '../adapters/ws/pusher.ts';
import type { PusherSettings } from '../adapters/ws/config.ts';
import type { LiveFeed, LiveSource } from '../domain/ports/live.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { checkHttpApiConfig } from './api-role.ts';
import { ConfigError, parseEnv } from './config.ts';
import { kafkaOf } from './kafka.ts';
import type { RoleContext, RunningRole } from './roles.ts';
import type { Storage } from './stores.ts';


/**
 * The live feed the pushers forward: the one this process's roles share, else with BUS=kafka the
 * live topic (publishers in other processes reach every pusher), else one of this process.
 */
export const liveFeedOf = (ctx: RoleContext, storage: Storage): { feed: LiveFeed & LiveSource; close(): Promise<void> } => {
  if (ctx.shared.live) return { feed: ctx.shared.live, close: async () => undefined };
  if (ctx.config.BUS === 'kafka') {
    const { kafka, settings } = kafkaOf(ctx.config, ctx.log, 'BUS=kafka');
    const feed = createKafkaLiveFeed({ kafka, topic: parseEnv(wsConfigSchema, ctx.env).KAFKA_LIVE_TOPIC, partitions: settings.partitions, keys: storage.keys, log: ctx.log });
    ctx.shared.live = feed;
    return { feed, close: () => feed.close() };
  }
  const feed = createInProcessLiveFeed();
  ctx.shared.live = feed;
  return { feed, close: async () => undefined };
};

export const pusherSettingsOf = (env: NodeJS.ProcessEnv): Partial<PusherSettings> => {
  const c = parseEnv(wsConfigSchema, env);
  return { heartbeatMs: c.WS_HEARTBEAT_MS, maxBufferedBytes: c.WS_MAX_BUFFERED_BYTES, maxFrameBytes: c.WS_MAX_FRAME_BYTES, maxSocketsPerTenant: c.WS_MAX_SOCKETS_PER_TENANT };
};

export const checkWsRoleConfig = (env: NodeJS.ProcessEnv): void => {
  checkHttpApiConfig(env);
  parseEnv(wsConfigSchema, env);
};

/**
 * The HTTP API's credential checks for a pusher without an api role beside it: the same JWT keys
 * (so they must be configured: an ephemeral key would verify no token the API issued), the same
 * operator key, API keys looked up in the same read models.
 */
const ownAuth = (ctx: RoleContext, storage: Storage): { auth: Auth; close(): Promise<void> } => {
  const config = parseEnv(httpApiConfigSchema, ctx.env);
  const { keys, ephemeral } = loadJwtKeySet(config);
  if (ephemeral) throw new ConfigError('the ws role verifies the API\'s tokens: set the same JWT_SECRET (or JWT_PRIVATE_KEYS) as the api role');
  // failed logins counted where the api role counts them (REDIS_URL), so a lockout holds on both
  const redis = config.REDIS_URL ? createRedisClient(config.REDIS_URL, ctx.log) : undefined;
  return {
    auth: authOf(config, keys, apiKeyLookup(storage.db, ctx.config.READ_MODEL_SCHEMA), redis).auth,
    close: async () => {
      if (redis) await closeRedisClient(redis);
    },
  };
};

/**
 * The `ws` role: WebSocket pushers on the api role's HTTP server when it runs in this process,
 * else on a server of their own (PORT, HOST; /healthz included). Every instance consumes the bus
 * in broadcast mode, so dashboards behind a load balancer all get every event.
 */
export const startWsRole = async (ctx: RoleContext): Promise<RunningRole> => {
  const storage = await ctx.storage();
  const { auth, close: closeAuth } = ctx.shared.auth
    ? { auth: ctx.shared.auth, close: async () => undefined }
    : (await migrateReadModels(storage.db, ctx.config.READ_MODEL_SCHEMA, PROJECTIONS), ownAuth(ctx, storage));
  let phase: 'starting' | 'ready' | 'stopping' = 'starting';
  const own = ctx.shared.http
    ? undefined
    : await startHttpServer({
        port: ctx.config.PORT,
        host: ctx.config.HOST,
        readiness: () => ({ ready: phase === 'ready', detail: { role: 'ws', phase } }),
        trustProxy: ctx.config.TRUST_PROXY,
      });
  const http = ctx.shared.http ?? own!;
  const live = liveFeedOf(ctx, storage);
  try {
    const pusher = await createPusher({
      bus: storage.bus,
      store: storage.store,
      codec: storage.codec,
      authenticator: auth.authenticator,
      live: live.feed,
      log: ctx.log,
      settings: pusherSettingsOf(ctx.env),
      clientAddressOf: http.clientAddressOf,
    });
    pusher.attach(http.server);
    phase = 'ready';
    const url = `${http.url.replace(/^http/, 'ws')}/ws/tenant/{tenantId}`;
    ctx.log.info({ url }, 'ws pushers running');
    return {
      banner: `ws pushers on ${url}`,
      async stop() {
        phase = 'stopping'; // its own /healthz says so while the sockets drain
        await pusher.close();
        await live.close();
        await own?.close();
        await closeAuth();
      },
    };
  } catch (error) {
    await live.close();
    await own?.close();
    await closeAuth();
    throw error;
  }
};
