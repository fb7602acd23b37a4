import type { EventFilter, RecordedEvent } from '../../../domain/ports/event-store.ts';
import { createSubscription } from './subscription.ts';
import type { Page } from './subscription.ts';
import { createWakeup } from './wakeup.ts';
import type { Wakeup } from './wakeup.ts';

/** A recorded event with the columns a subscription's filter looks at. */
interface TailEvent {
  readonly event: RecordedEvent;
  readonly category: string;
  readonly tenantId: string;
}

/** Events kept in memory behind the head; a subscriber further behind reads the log itself. */
const DEFAULT_CAPACITY = 10_000;
const RESTART_PAUSE_MS = 250;

export interface TailSource {
  /** The head when the tail starts: it covers every event after it. */
  head(): Promise<bigint | undefined>;
  /** Unfiltered page after a position, with the visibility horizon applied (subscription.ts). */
  readPage(after: bigint | undefined, maxCount: number): Promise<{ entries: TailEvent[]; full: boolean; pending: boolean }>;
  /** Woken by every commit this store hears of. */
  readonly wakeup: Wakeup;
}

const matches = (entry: TailEvent, filter: EventFilter | undefined): boolean =>
  !filter ||
  ((filter.tenantId === undefined || entry.tenantId === filter.tenantId) &&
    (filter.categories === undefined || filter.categories.includes(entry.category)) &&
    (filter.eventTypes === undefined || filter.eventTypes.includes(entry.event.type)));

/**
 * One reader of the log's head per store, shared by every live subscription of this process.
 * Without it each subscription read every new page itself: with the projector, the agents, the
 * bots, the saga and the pushers in one process, one commit cost a query per subscriber. The tail
 * reads each new page once (unfiltered) and keeps the newest events in memory; a subscription
 * whose position the tail covers takes its next page from there, filtered in memory, and one
 * further behind (catching up, or more than `capacity` events behind) reads the log as before.
 * It runs while at least one subscription is open; subscriptions wait on its `wakeup`.
 */
export const createTail = (source: TailSource, capacity = DEFAULT_CAPACITY) => {
  /** The newest events in position order: every visible event after `from` up to the last one. */
  let buffer: TailEvent[] = [];
  let from: bigint | undefined;
  let covering = false;
  const grown = createWakeup();
  let running: { close(): Promise<void> } | undefined;
  let starting: Promise<void> | undefined;
  let users = 0;

  const start = async (): Promise<void> => {
    const head = await source.head();
    buffer = [];
    from = head;
    covering = true;
    let read: TailEvent[] = [];
    const subscription = createSubscription({
      after: head,
      batchSize: 1_000,
      readPage: async (after, maxCount) => {
        const page = await source.readPage(after, maxCount);
        read = page.entries;
        return { events: page.entries.map((e) => e.event), full: page.full, pending: page.pending };
      },
      wakeup: source.wakeup,
      handler: async () => {
        buffer.push(...read);
        if (buffer.length > capacity) {
          const dropped = buffer.length - Math.floor(capacity / 2);
          from = buffer[dropped - 1]!.event.position;
          buffer = buffer.slice(dropped);
        }
        grown.notify();
      },
    });
    running = subscription;
    // A tail that failed (the database, not a handler) stops covering: subscriptions read the log
    // until it is back.
    void subscription.done.then(
      () => undefined,
      () => {
        if (running !== subscription) return;
        running = undefined;
        covering = false;
        grown.notify();
        restartLater();
      },
    );
  };

  const ensure = async (): Promise<void> => {
    if (users === 0 || running) return;
    starting ??= start().finally(() => (starting = undefined));
    await starting;
  };

  /** Tries to start the tail again until it runs or nobody uses it (the database may still be down). */
  const restartLater = (): void => {
    setTimeout(() => void ensure().catch(restartLater), RESTART_PAUSE_MS).unref();
  };

  /** Index of the first buffered event after `after`, or -1 when the buffer does not cover it. */
  const firstAfter = (after: bigint | undefined): number => {
    if (!covering) return -1;
    if (from !== undefined && (after === undefined || after < from)) return -1;
    let lo = 0;
    let hi = buffer.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (after !== undefined && buffer[mid]!.event.position <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const stop = async (): Promise<void> => {
    await starting?.catch(() => undefined);
    // a subscription acquired the tail while this stop waited: it keeps running for it
    if (users > 0) return;
    const current = running;
    running = undefined;
    covering = false;
    buffer = [];
    await current?.close();
  };

  return {
    /** Stops the tail whoever still uses it (the store is closing). */
    async close(): Promise<void> {
      users = 0;
      await stop();
    },
    /** Woken whenever the tail has new events, or stopped covering. */
    wakeup: grown as Wakeup,
    async acquire(): Promise<void> {
      users++;
      // A tail that cannot start (the database is down) must not fail the subscription for good:
      // it reads the log itself until the tail runs.
      await ensure().catch(restartLater);
    },
    async release(): Promise<void> {
      users = Math.max(0, users - 1);
      if (users === 0) await stop();
    },
    /**
     * The position up to which the tail holds every event, when it covers one: a subscription
     * that takes it before reading the log, and read everything that was visible, has passed it.
     */
    coveredFrom(): bigint | undefined {
      return covering ? from : undefined;
    },
    /** The next page for a subscription from memory, or undefined when it must read the log. */
    pageFor(after: bigint | undefined, filter: EventFilter | undefined, maxCount: number): Page | undefined {
      const first = firstAfter(after);
      if (first < 0) return undefined;
      const events: RecordedEvent[] = [];
      for (let i = first; i < buffer.length; i++) {
        const entry = buffer[i]!;
        if (!matches(entry, filter)) continue;
        if (events.length === maxCount) return { events, full: true, pending: false };
        events.push(entry.event);
      }
      const last = buffer[buffer.length - 1]?.event.position;
      return { events, full: false, pending: false, ...(last !== undefined ? { scannedTo: last } : {}) };
    },
  };
};

