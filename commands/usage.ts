import type { TenantId } from '../domain/shared/ids.ts';
import type { MessageSlot, UsageLookup } from './context.ts';

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
  /** Messages reserved and not yet settled: counted, so that concurrent posts cannot all pass. */
  inFlight: number;
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
 * One reservation on a count: in flight until settled; then, when it appended something the last read
 * did not count, remembered by its position until a read includes it.
 */
const reserve = (entry: { inFlight: number; local: bigint[] }, count: number, counted: (position: bigint) => boolean): MessageSlot => {
  entry.inFlight += 1;
  let done = false;
  return {
    count,
    settle(position) {
      if (done) return;
      done = true;
      entry.inFlight -= 1;
      if (position !== undefined && !counted(position)) entry.local.push(position);
    },
  };
};

/**
 * Daily message counts without a database round trip per message: the read model's count, read
 * at most `maxAgeMs` ago, plus the user messages this process accepted past the position that
 * count reflects, plus those still being decided (`reserveMessage`). In one process the count is
 * exact whatever the projection lag and however many posts race; what it cannot
 * see is messages accepted by *other* processes and not yet read here (at most `maxAgeMs` plus
 * their projection lag), so a tenant posting through several API processes at once can go over
 * its quota by about that much. Knight counts pass through: the knights-at-once limit is money (a
 * computer per knight), so deploys reserve their place in the database every process shares
 * (`reserveKnight`, wired beside this in runtime/), not here.
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

  /** The entry of a tenant-day, read again if it is older than maxAge. */
  const fresh = async (tenantId: TenantId, day: string): Promise<DayCount> => {
    const key = `${tenantId}|${day}`;
    let entry = days.get(key);
    if (!entry) entry = { base: 0, basePosition: undefined, local: [], inFlight: 0, fetchedAt: Number.NEGATIVE_INFINITY, refreshing: undefined };
    remember(key, entry);
    if (now() - entry.fetchedAt > options.maxAgeMs) await refresh(tenantId, day, entry);
    return entry;
  };
  const countOf = (entry: DayCount) => entry.base + entry.local.length + entry.inFlight;

  return {
    messagesToday: async (tenantId, day) => countOf(await fresh(tenantId, day)),
    activeKnights: (tenantId) => options.activeKnights(tenantId),
    async reserveMessage(tenantId, day): Promise<MessageSlot> {
      const entry = await fresh(tenantId, day);
      // a message the last read already counted (the projector was quick) is not added again
      return reserve(entry, countOf(entry), (position) => entry.basePosition !== undefined && position <= entry.basePosition);
    },
  };
};
