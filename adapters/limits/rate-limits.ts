import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { TIER_LIMITS, TIERS } from '../../domain/tiers.ts';
import type { Tier } from '../../domain/tiers.ts';
import type { AuthFailureGuard } from '../auth/authenticate.ts';
import { HttpError } from '../http/http-error.ts';
import { countRateLimited } from '../telemetry/metrics.ts';

export interface RateLimitOptions {
  /** Shared counters across API processes; without it each process counts on its own. */
  readonly redis?: Redis | undefined;
  readonly keyPrefix?: string;
  /** Requests a minute for operator credentials, all operators together (default 600). */
  readonly operatorPerMinute?: number;
  /** Failed (or not yet verified) authentications a minute per client address before it gets 429 (default 30). */
  readonly authFailuresPerMinute?: number;
  /** Overrides of TIER_LIMITS[tier].requestsPerMinute (TIER_REQUESTS_PER_MINUTE, tests). */
  readonly tierPerMinute?: Partial<Record<Tier, number>>;
}

export type RateSubject = { readonly kind: 'tenant'; readonly tenantId: string; readonly tier: Tier } | { readonly kind: 'operator' };

export interface RateDecision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window resets (for a refusal: the Retry-After). */
  readonly resetSeconds: number;
}

export type RateLimits = ReturnType<typeof createRateLimits>;

/** How long a key that verified stays vouched for across processes (revocation is still checked on every use). */
const VOUCHER_SECONDS = 7 * 24 * 3600;

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export const rateLimited = (decision: RateDecision): HttpError =>
  new HttpError(429, 'rate_limited', `too many requests: the limit is ${decision.limit} a minute`, {
    headers: { 'Retry-After': String(decision.resetSeconds) },
    details: { limit: decision.limit, retryAfterSeconds: decision.resetSeconds },
  });

/**
 * Fixed one-minute windows per tenant (by its tier's requestsPerMinute) and for operators. With
 * Redis, an in-memory insurance limiter takes over while Redis is unreachable, so an outage of
 * the limiter degrades to per-process counting instead of refusing requests.
 */
export const createRateLimits = (options: RateLimitOptions = {}) => {
  const prefix = options.keyPrefix ?? 'ocs:rl';
  const limiter = (name: string, points: number): RateLimiterAbstract => {
    const base = { keyPrefix: `${prefix}:${name}`, points, duration: 60 };
    return options.redis
      ? new RateLimiterRedis({ ...base, storeClient: options.redis, insuranceLimiter: new RateLimiterMemory(base) })
      : new RateLimiterMemory(base);
  };
  const perMinute = (tier: Tier) => options.tierPerMinute?.[tier] ?? TIER_LIMITS[tier].requestsPerMinute;
  const tiers = Object.fromEntries(TIERS.map((t) => [t, { limiter: limiter(`tier-${t}`, perMinute(t)), limit: perMinute(t) }])) as Record<
    Tier,
    { limiter: RateLimiterAbstract; limit: number }
  >;
  const operatorLimit = options.operatorPerMinute ?? 600;
  const operator = { limiter: limiter('operator', operatorLimit), limit: operatorLimit };
  const failuresLimit = options.authFailuresPerMinute ?? 30;
  const vouchers = (voucher: string) => `${prefix}:vouched:${voucher}`;
  const failures = limiter('auth-failures', failuresLimit);

  const take = async ({ limiter, limit }: { limiter: RateLimiterAbstract; limit: number }, key: string): Promise<RateDecision> => {
    try {
      const res = await limiter.consume(key);
      return { allowed: true, limit, remaining: res.remainingPoints, resetSeconds: seconds(res.msBeforeNext) };
    } catch (error) {
      if (error instanceof RateLimiterRes) return { allowed: false, limit, remaining: 0, resetSeconds: seconds(error.msBeforeNext) };
      throw error;
    }
  };

  /**
   * Increment, then compare: the count is taken before the attempt is judged, atomically (Redis INCR,
   * or one synchronous update in memory), so a burst of parallel bad attempts cannot all pass a check
   * made before any of them was counted.
   */
  const authFailures: AuthFailureGuard = {
    async spend(client) {
      const decision = await take({ limiter: failures, limit: failuresLimit }, client);
      if (decision.allowed) return;
      countRateLimited('auth_failures');
      throw rateLimited(decision);
    },
    async refund(client) {
      await failures.reward(client, 1).catch(() => undefined);
    },
    // vouchers only where processes share Redis; one process's own memory is in the key verifier
    async vouched(voucher) {
      return options.redis ? (await options.redis.exists(vouchers(voucher)).catch(() => 0)) === 1 : false;
    },
    async vouch(voucher) {
      await options.redis?.set(vouchers(voucher), '1', 'EX', VOUCHER_SECONDS).catch(() => undefined);
    },
    async unvouch(voucher) {
      await options.redis?.del(vouchers(voucher)).catch(() => undefined);
    },
  };

  return {
    consume: async (subject: RateSubject): Promise<RateDecision> => {
      const decision = subject.kind === 'operator' ? await take(operator, 'all') : await take(tiers[subject.tier], subject.tenantId);
      if (!decision.allowed) countRateLimited(subject.kind === 'operator' ? 'operator' : subject.tier);
      return decision;
    },
    authFailures,
  };
};
