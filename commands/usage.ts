import type { TenantId } from '../domain/shared/ids.ts';
import type { UsageLookup } from './context.ts';

/** How stale the read model's daily count may be before a command reads it again. */
export const USAGE_MAX_AGE_MS = 1_000;

interface DayCount {
  /** The read model's count when it was last read. */
  base: number;
  /** User messages this process accepted since that read started. */
  local: number;
  fetchedAt: number;
  refreshing: Promise<void> | undefined;
}

export interface CountingUsageOptions {
  /** How old the read model's figure may get before the next command reads it again. */
  readonly maxAgeMs: number;
  /** Tenant-days remembered; the least recently used is forgotten first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/**
 * Daily message counts without a database round trip per message: the read model's count, read
 * at most `maxAgeMs` ago, plus the user messages this process accepted since that read began.
 *
 * What it can miss is what the read model itself misses — messages another process accepted
 * that are not projected yet, or were accepted within the last `maxAgeMs` — so a tenant
 * posting through several API processes can go over its quota by about that much. Messages
 * accepted while a read is in flight count twice until the next read: the error is on the
 * safe side. Knight counts pass straight through (deploys are rare and the limit is small).
 */
export const countingUsage = (lookup: UsageLookup, options: CountingUsageOptions): UsageLookup => {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const days = new Map<string, DayCount>();

  const remember = (key: string, entry: DayCount) => {
    days.delete(key);
    days.set(key, entry);
    if (days.size > maxEntries) days.delete(days.keys().next().value!);
  };

  const refresh = (tenantId: TenantId, day: string, key: string, entry: DayCount): Promise<void> => {
    entry.refreshing ??= (async () => {
      const startedAt = now();
      const localAtStart = entry.local;
      try {
        const base = await lookup.messagesToday(tenantId, day);
        entry.base = base;
        entry.local -= localAtStart;
        entry.fetchedAt = startedAt;
      } finally {
        entry.refreshing = undefined;
      }
    })();
    remember(key, entry);
    return entry.refreshing;
  };

  return {
    async messagesToday(tenantId, day) {
      const key = `${tenantId}|${day}`;
      let entry = days.get(key);
      if (!entry) {
        entry = { base: 0, local: 0, fetchedAt: Number.NEGATIVE_INFINITY, refreshing: undefined };
        remember(key, entry);
      }
      if (now() - entry.fetchedAt > options.maxAgeMs) await refresh(tenantId, day, key, entry);
      return entry.base + entry.local;
    },
    activeKnights: (tenantId) => lookup.activeKnights(tenantId),
    messageAccepted(tenantId, day) {
      const entry = days.get(`${tenantId}|${day}`);
      if (entry) entry.local += 1;
      lookup.messageAccepted?.(tenantId, day);
    },
  };
};
