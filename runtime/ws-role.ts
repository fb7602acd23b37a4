import { z } from 'zod';
import { loadJwtKeySet } from '../adapters/auth/config.ts';
import { createAuth } from '../adapters/auth/index.ts';
import type { Auth } from '../adapters/auth/index.ts';
import { httpApiConfigSchema } from '../adapters/http/index.ts';
import { startHttpServer } from '../adapters/http/server.ts';
import { createRateLimits } from '../adapters/limits/index.ts';
import { migrateReadModels } from '../adapters/projections/projector.ts';
import { apiKeyLookup } from '../adapters/projections/read-side.ts';
import { createPusher, DEFAULT_PUSHER_SETTINGS } from '../adapters/ws/pusher.ts';
import type { PusherSettings } from '../adapters/ws/pusher.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { checkHttpApiConfig } from './api-role.ts';
import { ConfigError, parseEnv } from './config.ts';
import type { RoleContext, RunningRole } from './roles.ts';
import type { Storage } from './stores.ts';

/** The pushers' own variables (README, docs/live.md). */
export const wsConfigSchema = z.object({
  WS_HEARTBEAT_MS: z.coerce.number().int().min(1_000).max(300_000).default(DEFAULT_PUSHER_SETTINGS.heartbeatMs),
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().min(16_384).max(64 << 20).default(DEFAULT_PUSHER_SETTINGS.maxBufferedBytes),
  WS_MAX_FRAME_BYTES: z.coerce.number().int().min(128).max(1 << 20).default(DEFAULT_PUSHER_SETTINGS.maxFrameBytes),
});

export const pusherSettingsOf = (env: NodeJS.ProcessEnv): Partial<PusherSettings> => {
  const c = parseEnv(wsConfigSchema, env);
  return { heartbeatMs: c.WS_HEARTBEAT_MS, maxBufferedBytes: c.WS_MAX_BUFFERED_BYTES, maxFrameBytes: c.WS_MAX_FRAME_BYTES };
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
const ownAuth = (ctx: RoleContext, storage: Storage): Auth => {
  const config = parseEnv(httpApiConfigSchema, ctx.env);
  const { keys, ephemeral } = loadJwtKeySet(config);
  if (ephemeral) throw new ConfigError('the ws role verifies the API\'s tokens: set the same JWT_SECRET (or JWT_PRIVATE_KEYS) as the api role');
  const rates = createRateLimits({
    keyPrefix: config.RATE_LIMIT_PREFIX,
    operatorPerMinute: config.OPERATOR_REQUESTS_PER_MINUTE,
    authFailuresPerMinute: config.AUTH_FAILURES_PER_MINUTE,
    tierPerMinute: config.TIER_REQUESTS_PER_MINUTE,
  });
  return createAuth({
    findApiKey: apiKeyLookup(storage.db, ctx.config.READ_MODEL_SCHEMA),
    operatorApiKey: config.OPERATOR_API_KEY,
    keys,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.JWT_TTL_SECONDS,
    apiKeyCacheMs: config.API_KEY_CACHE_MS,
    failures: rates.authFailures,
  });
};

/**
 * The `ws` role: WebSocket pushers on the api role's HTTP server when it runs in this process,
 * else on a server of their own (PORT, HOST; /healthz included). Every instance consumes the bus
 * in broadcast mode, so dashboards behind a load balancer all get every event.
 */
export const startWsRole = async (ctx: RoleContext): Promise<RunningRole> => {
  const storage = await ctx.storage();
  const auth = ctx.shared.auth ?? (await migrateReadModels(storage.db, ctx.config.READ_MODEL_SCHEMA, PROJECTIONS), ownAuth(ctx, storage));
  let ready = false;
  const own = ctx.shared.http
    ? undefined
    : await startHttpServer({ port: ctx.config.PORT, host: ctx.config.HOST, readiness: () => ({ ready, detail: { role: 'ws' } }) });
  const http = ctx.shared.http ?? own!;
  try {
    const pusher = await createPusher({
      bus: storage.bus,
      store: storage.store,
      codec: storage.codec,
      authenticator: auth.authenticator,
      live: ctx.shared.live,
      log: ctx.log,
      settings: pusherSettingsOf(ctx.env),
    });
    pusher.attach(http.server);
    ready = true;
    const url = `${http.url.replace(/^http/, 'ws')}/ws/tenant/{tenantId}`;
    ctx.log.info({ url }, 'ws pushers running');
    return {
      banner: `ws pushers on ${url}`,
      async stop() {
        await pusher.close();
        await own?.close();
      },
    };
  } catch (error) {
    await own?.close();
    throw error;
  }
};
