import type { TenantId } from '../domain/shared/ids.ts';
import type { UsageLookup } from './context.ts';

/** How stale the read model's daily count may be before a command reads it again. */
export const USAGE_MAX_AGE_MS = 1_000;

/** The read model's count of a tenant's user messages on a day, and the log position it reflects. */
export interface ProjectedCount {
  readonly messages: number;
  /** The usage projection's checkpoint in the same snapshot; undefined before its first batch. */
  readonly position: bigint | undefined;
}

interface DayCount {
  /** The read model's count when it was last read, and the position it had reached then. */
  base: number;
  basePosition: bigint | undefined;
  /** Positions of the user messages this process accepted that the last read did not include. */
  local: bigint[];
  fetchedAt: number;
  refreshing: Promise<void> | undefined;
}

export interface CountingUsageOptions {
  /** Reads the projected count; the position must come from the same snapshot as the count. */
  readonly messagesToday: (tenantId: TenantId, day: string) => Promise<ProjectedCount>;
  readonly activeKnights: (tenantId: TenantId) => Promise<number>;
  /** How old the read model's figure may get before the next command reads it again. */
  readonly maxAgeMs: number;
  /** Tenant-days remembered; the least recently used is forgotten first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/**
 * Daily message counts without a database round trip per message: the read model's count, read
 * at most `maxAgeMs` ago, plus the user messages this process accepted past the position that
 * count reflects. In one process the count is exact whatever the projection lag; what it cannot
 * see is messages accepted by *other* processes and not yet read here (at most `maxAgeMs` plus
 * their projection lag), so a tenant posting through several API processes at once can go over
 * its quota by about that much. Knight counts pass straight through (deploys are rare and the
 * limit is small).
 */
export const countingUsage = (options: CountingUsageOptions): UsageLookup => {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const days = new Map<string, DayCount>();

  const remember = (key: string, entry: DayCount) => {
    days.delete(key);
    days.set(key, entry);
    if (days.size > maxEntries) days.delete(days.keys().next().value!);
  };

  const refresh = (tenantId: TenantId, day: string, entry: DayCount): Promise<void> =>
    (entry.refreshing ??= (async () => {
      const startedAt = now();
      try {
        const { messages, position } = await options.messagesToday(tenantId, day);
        entry.base = messages;
        entry.basePosition = position;
        if (position !== undefined) entry.local = entry.local.filter((p) => p > position);
        entry.fetchedAt = startedAt;
      } finally {
        entry.refreshing = undefined;
      }
    })());

  return {
    async messagesToday(tenantId, day) {
      const key = `${tenantId}|${day}`;
      let entry = days.get(key);
      if (!entry) entry = { base: 0, basePosition: undefined, local: [], fetchedAt: Number.NEGATIVE_INFINITY, refreshing: undefined };
      remember(key, entry);
      if (now() - entry.fetchedAt > options.maxAgeMs) await refresh(tenantId, day, entry);
      return entry.base + entry.local.length;
    },
    activeKnights: (tenantId) => options.activeKnights(tenantId),
    messageAccepted(tenantId, day, position) {
      const entry = days.get(`${tenantId}|${day}`);
      if (!entry || position === undefined) return;
      if (entry.basePosition === undefined || position > entry.basePosition) entry.local.push(position);
    },
  };
};
