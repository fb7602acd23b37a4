/** What each tier buys. Limits are enforced by the deciders (knights, messages) and the API (requests). */
export const TIERS = ['free', 'pro', 'enterprise'] as const;
export type Tier = (typeof TIERS)[number];

export interface TierLimits {
  readonly knightsAtOnce: number;
  /** The largest computer one knight may ask for. */
  readonly knightMaxCpu: number;
  readonly knightMaxRamGb: number;
  readonly messagesPerDay: number;
  readonly requestsPerMinute: number;
}

export const TIER_LIMITS: { readonly [T in Tier]: TierLimits } = Object.freeze({
  free: Object.freeze({ knightsAtOnce: 1, knightMaxCpu: 2, knightMaxRamGb: 8, messagesPerDay: 200, requestsPerMinute: 60 }),
  pro: Object.freeze({ knightsAtOnce: 5, knightMaxCpu: 8, knightMaxRamGb: 32, messagesPerDay: 5_000, requestsPerMinute: 600 }),
  enterprise: Object.freeze({ knightsAtOnce: 50, knightMaxCpu: 16, knightMaxRamGb: 64, messagesPerDay: 100_000, requestsPerMinute: 6_000 }),
});

export const isTier = (value: unknown): value is Tier =>
  typeof value === 'string' && (TIERS as readonly string[]).includes(value);

export const tierLimits = (tier: Tier): TierLimits => TIER_LIMITS[tier];
