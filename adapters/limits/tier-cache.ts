import type { Tier } from '../../domain/tiers.ts';

export interface TierLookupOptions {
  /** How long a tier is reused (default 5 000 ms): a tier change reaches the limiter within that. */
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/**
 * A tenant's tier for rate limiting. A tenant the read model does not show yet counts as `free`
 * (the strictest); if the read side fails, the last known tier (or `free`) is used: the limiter
 * never turns a read-side hiccup into a refused request on its own.
 */
export const createTierLookup = (load: (tenantId: string) => Promise<Tier | undefined>, options: TierLookupOptions = {}) => {
  const ttl = options.ttlMs ?? 5_000;
  const max = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { tier: Tier; until: number }>();
  return async (tenantId: string): Promise<Tier> => {
    const hit = cache.get(tenantId);
    if (hit && hit.until > now()) return hit.tier;
    let tier: Tier;
    try {
      tier = (await load(tenantId)) ?? 'free';
    } catch {
      tier = hit?.tier ?? 'free';
    }
    cache.delete(tenantId);
    if (cache.size >= max) cache.delete(cache.keys().next().value!);
    cache.set(tenantId, { tier, until: now() + ttl });
    return tier;
  };
};
