import { z } from 'zod';
import { decimalInt, isDecimalIntIn } from '../config/decimal.ts';
import { isTier, TIERS } from '../../domain/tiers.ts';
import type { Tier } from '../../domain/tiers.ts';

/** Bounds of every requests-a-minute setting. */
const PER_MINUTE = { min: 1, max: 1_000_000 } as const;

/**
 * `TIER_REQUESTS_PER_MINUTE`: `tier=n` pairs separated by commas (`free=120,pro=1000`), each
 * replacing that tier's requestsPerMinute from domain/tiers.ts; tiers not named keep the table's.
 * Every mistake is reported (unknown tier, repeated tier, not `tier=n`, n out of range), so a
 * typo stops the process at start instead of silently leaving a tier at its default.
 */
export const tierRequestsPerMinuteSchema = z.string().transform((value, ctx): Partial<Record<Tier, number>> => {
  const budgets: Partial<Record<Tier, number>> = {};
  const seen = new Set<string>();
  const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
  for (const entry of value.split(',').map((e) => e.trim())) {
    const match = /^([^=\s]+)\s*=\s*(\S+)$/.exec(entry);
    if (!match) {
      problem(entry === '' ? 'an empty entry (a stray comma?)' : `"${entry}" is not tier=requests (e.g. free=120,pro=1000)`);
      continue;
    }
    const tier = match[1]!;
    const count = match[2]!;
    if (!isTier(tier)) problem(`unknown tier "${tier}" (tiers: ${TIERS.join(', ')})`);
    else if (seen.has(tier)) problem(`tier "${tier}" is given twice`);
    seen.add(tier);
    if (!isDecimalIntIn(count, PER_MINUTE.min, PER_MINUTE.max))
      problem(`"${entry}": requests a minute must be a whole number from ${PER_MINUTE.min} to ${PER_MINUTE.max.toLocaleString('en-US')}, in decimal digits`);
    else if (isTier(tier)) budgets[tier] = Number(count);
  }
  return budgets;
});

/** Environment variables of the limits adapter; runtime/config.ts can merge `.shape` into its schema. */
export const limitsConfigSchema = z.object({
  /** Shared rate-limit counters (e.g. redis://127.0.0.1:6379); without it each process counts alone. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  RATE_LIMIT_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/).default('ocs:rl'),
  OPERATOR_REQUESTS_PER_MINUTE: decimalInt(PER_MINUTE.min, PER_MINUTE.max).default(600),
  AUTH_FAILURES_PER_MINUTE: decimalInt(PER_MINUTE.min, PER_MINUTE.max).default(30),
  /** Per-tier request budgets that replace the tier table's, e.g. `free=120,pro=1000`. */
  TIER_REQUESTS_PER_MINUTE: tierRequestsPerMinuteSchema.optional(),
});
export type LimitsConfig = z.infer<typeof limitsConfigSchema>;
