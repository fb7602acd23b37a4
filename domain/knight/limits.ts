import { TIER_LIMITS } from '../tiers.ts';
import type { Tier } from '../tiers.ts';
import type { KnightSpec } from './events.ts';
import type { KnightStatus } from './state.ts';

/**
 * The statuses in which a knight counts against its tier's knights-at-once: it holds a computer or
 * is about to get one, and works or will. A failed knight (its computer is being deleted, it will
 * never work again) and a terminating one (on its way out) do not count, nor does a terminated one.
 */
export const KNIGHT_STATUSES_AT_WORK = ['requested', 'provisioning', 'provisioned', 'working'] as const;

export const countsAgainstKnightLimit = (status: KnightStatus): boolean => (KNIGHT_STATUSES_AT_WORK as readonly string[]).includes(status);

/** A knight not terminated, as a tier change sees it: at work (`live`), failed, or terminating. */
export interface KnightAtTierChange {
  readonly knightId: string;
  readonly status: 'live' | 'failed' | 'terminating';
  /** Null when unknown (the request was not read): such a knight is judged by the count alone. */
  readonly spec: KnightSpec | null;
}

const fits = (spec: KnightSpec | null, tier: Tier): boolean =>
  spec === null || (spec.cpu <= TIER_LIMITS[tier].knightMaxCpu && spec.ramGb <= TIER_LIMITS[tier].knightMaxRamGb);

const lowers = (from: Tier, to: Tier): boolean => {
  const [a, b] = [TIER_LIMITS[from], TIER_LIMITS[to]];
  return b.knightsAtOnce < a.knightsAtOnce || b.knightMaxCpu < a.knightMaxCpu || b.knightMaxRamGb < a.knightMaxRamGb;
};

/**
 * Which knights a tier change ends, and why; `knights` newest first. Only a tier with a lower limit
 * ends any: its failed knights (they do no work; the change tidies them), the knights at work larger
 * than it allows, and then the newest knights at work beyond its knights-at-once. Knights already
 * terminating are left alone, so the same change applied again ends nothing more.
 */
export const knightsEndedByTierChange = (
  knights: readonly KnightAtTierChange[],
  from: Tier,
  to: Tier,
): { readonly knightId: string; readonly reason: string }[] => {
  if (!lowers(from, to)) return [];
  const { knightsAtOnce: limit, knightMaxCpu, knightMaxRamGb } = TIER_LIMITS[to];
  const failed = knights.filter((k) => k.status === 'failed');
  const atWork = knights.filter((k) => k.status === 'live');
  const oversized = atWork.filter((k) => !fits(k.spec, to));
  const kept = atWork.filter((k) => fits(k.spec, to));
  const beyond = kept.slice(0, Math.max(0, kept.length - limit));
  const atOnce = `the ${to} tier allows ${limit} knight${limit === 1 ? '' : 's'} at once`;
  return [
    ...failed.map((k) => ({ knightId: k.knightId, reason: `the knight had failed; ${atOnce}` })),
    ...oversized.map((k) => ({ knightId: k.knightId, reason: `the ${to} tier allows knights of at most ${knightMaxCpu} CPUs and ${knightMaxRamGb} GB RAM` })),
    ...beyond.map((k) => ({ knightId: k.knightId, reason: atOnce })),
  ];
};
