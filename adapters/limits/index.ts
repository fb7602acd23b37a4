import type { RequestHandler } from 'express';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Tier } from '../../domain/tiers.ts';
import { principalOf } from '../auth/authenticate.ts';
import { rateLimited } from './rate-limits.ts';
import type { RateLimits } from './rate-limits.ts';

export { createRateLimits, rateLimited } from './rate-limits.ts';
export type { RateDecision, RateLimitOptions, RateLimits, RateSubject } from './rate-limits.ts';
export { createTierLookup } from './tier-cache.ts';
export { PAGE_SIZE, pageQuery } from './page.ts';
export { BODY_LIMIT_BYTES } from '../http/body.ts';

/** Runs after authentication: counts the request against its tenant (by tier) or the operators' budget. */
export const rateLimit =
  (deps: { limits: RateLimits; tierOf: (tenantId: string) => Promise<Tier> }): RequestHandler =>
  async (req, res, next) => {
    const principal = principalOf(req);
    const decision =
      principal.scope === 'operator'
        ? await deps.limits.consume({ kind: 'operator' })
        : await deps.limits.consume({ kind: 'tenant', tenantId: principal.tenantId, tier: await deps.tierOf(principal.tenantId) });
    res.setHeader('X-RateLimit-Limit', String(decision.limit));
    res.setHeader('X-RateLimit-Remaining', String(decision.remaining));
    res.setHeader('X-RateLimit-Reset', String(decision.resetSeconds));
    if (!decision.allowed) throw rateLimited(decision);
    next();
  };

/**
 * An ioredis client for the limiter: no offline queue (a command while disconnected fails at once
 * and the in-memory insurance limiter answers), one retry per command.
 */
/**
 * How long one Redis command may take before it fails and the limiter counts in memory instead: a
 * Redis that accepts the connection and then goes silent (a stuck server, a dropped route) must not
 * hold every request that passes the limiter.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 500;

export const createRedisClient = (url: string, log?: Logger): Redis => {
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: REDIS_COMMAND_TIMEOUT_MS });
  let reported = false;
  client.on('error', (error: Error) => {
    if (!reported) log?.warn({ err: { message: error.message } }, 'rate limiter redis unavailable; counting in memory');
    reported = true;
  });
  client.on('ready', () => (reported = false));
  return client;
};

/** QUIT when connected; otherwise just drop the connection attempts. */
export const closeRedisClient = async (client: Redis): Promise<void> => {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else client.disconnect();
};
