import type { Express, Router } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { CommandPorts } from '../../commands/context.ts';
import type { ChannelPlatforms } from '../../domain/ports/channels.ts';
import type { BillingLinks } from '../../domain/ports/billing.ts';
import type { VmProvider } from '../../domain/ports/vm-provider.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import type { ReadSide } from '../../projections/read-side.ts';
import { authConfigSchema, loadJwtKeySet } from '../auth/config.ts';
import type { FindApiKey } from '../auth/api-keys.ts';
import type { JwtKeySet } from '../auth/jwt-keys.ts';
import { createAuth } from '../auth/index.ts';
import type { AuditLog } from '../audit/service.ts';
import type { Auth } from '../auth/index.ts';
import { limitsConfigSchema } from '../limits/config.ts';
import { gatewayPolicyConfigSchema } from '../openclaw/config.ts';
import { closeRedisClient, createRateLimits, createRedisClient, createTierLookup } from '../limits/index.ts';
import { createApiRouter } from './api.ts';
import { createDashboardRouter } from './dashboard.ts';
import { API_BASE_PATH, buildOpenApi } from './openapi.ts';
import { notFoundHandler, problemMiddleware } from './problem.ts';
import { createPublicRouter } from './public.ts';
import { API_ROUTES } from './routes/index.ts';

/** Every environment variable the HTTP API reads (auth + limits); merge `.shape` into runtime's schema. */
export const httpApiConfigSchema = authConfigSchema.extend(limitsConfigSchema.shape).extend(gatewayPolicyConfigSchema.shape);
export type HttpApiConfig = z.infer<typeof httpApiConfigSchema>;

export interface HttpApiDeps {
  /** Command side: shell, clock, ids, usage lookup. */
  readonly ports: CommandPorts;
  /** Read side: tenant-scoped queries, API key lookup, read-your-writes waiting. */
  readonly reads: ReadSide;
  readonly log: Logger;
  /** The computers knights run on (Orgo), for live screenshots; optional. */
  readonly vms?: VmProvider | undefined;
  readonly audit?: AuditLog | undefined;
  /** Telegram and WhatsApp for the connect routes; without them those routes answer 503. */
  readonly channels?: ChannelPlatforms | undefined;
  /** Stripe Checkout and portal links for tenants; absent when billing is off. */
  readonly billing?: BillingLinks | undefined;
  /** Raw or parsed values of httpApiConfigSchema (e.g. process.env); defaults fill the rest. */
  readonly config?: z.input<typeof httpApiConfigSchema>;
}

export interface HttpApi {
  /** Mount at /api/v1 (self-contained: its own 404 and problem middleware). */
  readonly router: Router;
  /** Mount at /: GET /openapi.json and GET /.well-known/jwks.json (mount() adds the dashboard at GET /). */
  readonly publicRouter: Router;
  /** Both routers on `app` at their places. */
  mount(app: Express): void;
  openapi(): object;
  readonly auth: Auth;
  /** Closes the Redis connection of the rate limiter, if any. */
  close(): Promise<void>;
}

/**
 * The HTTP API's rate limits and credential checks from its configuration: what createHttpApi uses,
 * and what a WebSocket pusher without an API beside it builds to check sockets the same way.
 */
export const authOf = (config: HttpApiConfig, keys: JwtKeySet, findApiKey: FindApiKey, redis?: ReturnType<typeof createRedisClient>) => {
  const rates = createRateLimits({
    redis,
    keyPrefix: config.RATE_LIMIT_PREFIX,
    operatorPerMinute: config.OPERATOR_REQUESTS_PER_MINUTE,
    authFailuresPerMinute: config.AUTH_FAILURES_PER_MINUTE,
    tierPerMinute: config.TIER_REQUESTS_PER_MINUTE,
  });
  const auth = createAuth({
    findApiKey,
    operatorApiKey: config.OPERATOR_API_KEY,
    keys,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.JWT_TTL_SECONDS,
    apiKeyCacheMs: config.API_KEY_CACHE_MS,
    failures: rates.authFailures,
  });
  return { rates, auth };
};

export const createHttpApi = (deps: HttpApiDeps): HttpApi => {
  const config = httpApiConfigSchema.parse(deps.config ?? {});
  const { keys, ephemeral } = loadJwtKeySet(config);
  if (ephemeral) deps.log.warn({ alg: config.JWT_ALG }, 'no JWT key configured: using a key that lives as long as this process');
  if (!config.OPERATOR_API_KEY) deps.log.warn('OPERATOR_API_KEY is not set: no operator credential exists');
  const redis = config.REDIS_URL ? createRedisClient(config.REDIS_URL, deps.log) : undefined;
  const { rates, auth } = authOf(config, keys, (keyId) => deps.reads.findApiKey(keyId), redis);
  const tierOf = createTierLookup((tenantId) => deps.reads.forTenant(asTenantId(tenantId), (r) => r.tenant()).then((t) => t?.tier));
  const document = buildOpenApi(API_ROUTES);
  const router = createApiRouter({ ports: deps.ports, reads: deps.reads, auth, vms: deps.vms, audit: deps.audit, channels: deps.channels, billing: deps.billing, limits: { rates, tierOf }, log: deps.log, gatewayPolicy: { allowPrivateNetworks: config.GATEWAY_ALLOW_PRIVATE_NETWORKS } });
  const publicRouter = createPublicRouter({ openapi: () => document, jwks: () => keys.jwks() });
  return {
    router,
    publicRouter,
    mount(app) {
      app.use(API_BASE_PATH, router);
      app.use(publicRouter);
      app.use(createDashboardRouter());
    },
    openapi: () => document,
    auth,
    close: async () => {
      if (redis) await closeRedisClient(redis);
    },
  };
};

/** Put last on the app: a problem-document 404 for unknown paths and the error middleware for everything else. */
export const installFallbacks = (app: Express, log: Logger): void => {
  app.use(notFoundHandler);
  app.use(problemMiddleware(log));
};

export { API_BASE_PATH, PUBLIC_PATHS } from './openapi.ts';
export { API_ROUTES } from './routes/index.ts';
