import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessedEvents } from '../../adapters/bus/processed-events.ts';
import type { Bus, BusHandler, BusSubscription } from '../../domain/ports/bus.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { waitFor } from '../support/gate.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';

/** One bus implementation with its log: what the contract needs to drive and observe it. */
export interface BusHarness {
  readonly store: EventStore;
  /** Where effects and processed-event records live. */
  readonly db: SqlDb;
  readonly processed: ProcessedEvents;
  /** Attempts per event before the dead letters (the harness builds its buses with it). */
  readonly maxAttempts: number;
  /** A new bus instance over the same log (another process, or this one after a restart). */
  openBus(): Promise<Bus>;
  /**
   * Resolves once the events up to `position` can reach consumers: the store's head covers them
   * (another test's open transaction can hold it back for a moment), and on Kafka the relay has them acknowledged.
   */
  published(position: bigint): Promise<void>;
  /** The events `consumer` gave up on: id and error text. */
  deadLetters(consumer: string): Promise<{ eventId: string; error: string; attempts: number }[]>;
  close(): Promise<void>;
}

const consumerName = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

/** Handler that records what it saw, in order. */
const recorder = () => {
  const seen: RecordedEvent[] = [];
  const handler: BusHandler = (events) => void seen.push(...events);
  return { seen, handler };
};

/** Appends one event per value; resolves with the position of the last. */
const appendTo = async (store: EventStore, streamId: string, tenant: string, values: number[]): Promise<bigint> => {
  let last = -1n;
  for (const i of values) last = (await store.append(streamId, [newEvent(tenant, 'Counted', { i })], 'any')).position;
  return last;
};

/**
 * The same cases against every Bus: what a consumer author may rely on whichever bus runs
 * (BUS=local or BUS=kafka). Consumers filter by a tenant of their own, so cases do not see each
 * other's events.
 */
export const busContract = (name: string, setup: () => Promise<BusHarness>) => {
  describe(`Bus contract: ${name}`, () => {
    let h: BusHarness;
    let bus: Bus;
    const open: BusSubscription[] = [];
    const consume = async (b: Bus, ...args: Parameters<Bus['consume']>) => {
      const s = await b.consume(...args);
      open.push(s);
      return s;
    };
    beforeAll(async () => {
      h = await setup();
      bus = await h.openBus();
    });
    afterAll(async () => {
      for (const s of open) await s.close().catch(() => undefined);
      await bus?.close();
      await h?.close();
    });

    it('given events on three streams, then a new consumer gets each once, in order per stream, from the oldest', async () => {
      const t = uniqueTenant('bus');
      const streams = ['a', 'b', 'c'].map((s) => `conversation-${t}.${s}`);
      let last = -1n;
      for (let i = 0; i < 30; i++) last = await appendTo(h.store, streams[i % 3]!, t, [i]);
      await h.published(last);
      const { seen, handler } = recorder();
      await consume(bus, consumerName('order'), { filter: { tenantId: t } }, handler);
      await waitFor(() => seen.length >= 30, 30_000, '30 events');
      expect(new Set(seen.map((e) => e.id)).size).toBe(30);
      for (const stream of streams) {
        const revisions = seen.filter((e) => e.streamId === stream).map((e) => e.revision);
        expect(revisions).toEqual([...Array(10).keys()]);
      }
    });

    it('given a consumer closed after some events, when it starts again on another bus instance, then it resumes after what it handled', async () => {
      const t = uniqueTenant('bus');
      const stream = `tenant-${t}`;
      const name = consumerName('resume');
      const { seen, handler } = recorder();
      const first = await consume(bus, name, { filter: { tenantId: t } }, handler);
      await appendTo(h.store, stream, t, [...Array(10).keys()]);
      await waitFor(() => seen.length >= 10, 30_000, 'the first 10 events');
      await first.close();
      await h.published(await appendTo(h.store, stream, t, [10, 11, 12, 13, 14]));
      const again = await h.openBus();
      try {
        await consume(again, name, { filter: { tenantId: t } }, handler);
        await waitFor(() => seen.length >= 15, 30_000, '15 events');
        await new Promise((resolve) => setTimeout(resolve, 300)); // a redelivery would show up now
        expect(seen.map((e) => (e.data as { i: number }).i)).toEqual([...Array(15).keys()]);
      } finally {
        await again.close();
      }
    });

    it('given a handler that fails after its effect committed, then the event comes again and the effect (deduplicated by event id) happens once', async () => {
      const t = uniqueTenant('bus');
      const name = consumerName('effects');
      await h.db.exec(`CREATE TABLE IF NOT EXISTS bus_effects (consumer text NOT NULL, event_id uuid NOT NULL, n int NOT NULL)`);
      let failures = 0;
      const deliveries: string[] = [];
      await consume(bus, name, { filter: { tenantId: t } }, async (events) => {
        deliveries.push(...events.map((e) => e.id));
        await h.processed.once(name, events, async (tx, fresh) => {
          for (const e of fresh) await tx.query(`INSERT INTO bus_effects VALUES ($1, $2, $3)`, [name, e.id, (e.data as { i: number }).i]);
        });
        if (failures < 2 && events.some((e) => (e.data as { i: number }).i === 3)) {
          failures++;
          throw new Error('lost the connection after committing');
        }
      });
      await appendTo(h.store, `tenant-${t}`, t, [...Array(8).keys()]);
      await waitFor(async () => {
        const { rows } = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM bus_effects WHERE consumer = $1`, [name]);
        return rows[0]!.n >= 8 && failures === 2;
      }, 30_000, '8 effects');
      const { rows } = await h.db.query<{ n: number }>(`SELECT n FROM bus_effects WHERE consumer = $1 ORDER BY n`, [name]);
      expect(rows.map((r) => r.n)).toEqual([...Array(8).keys()]);
      expect(deliveries.length).toBeGreaterThan(8); // the failed delivery came again
    });

    it('given a poison event, then it goes to the dead letters with its error after the attempts, and later events of its stream are still handled', async () => {
      const t = uniqueTenant('bus');
      const name = consumerName('poison');
      const stream = `tenant-${t}`;
      const handled: number[] = [];
      let poisonAttempts = 0;
      await consume(bus, name, { filter: { tenantId: t } }, (events) => {
        for (const e of events) {
          const { i } = e.data as { i: number };
          if (i === 2) {
            poisonAttempts++;
            throw new Error(`cannot handle event ${i}: no such agent`);
          }
        }
        handled.push(...events.map((e) => (e.data as { i: number }).i));
      });
      await appendTo(h.store, stream, t, [0, 1, 2, 3, 4]);
      await waitFor(() => handled.includes(4), 30_000, 'the events after the poison one');
      const poison = (await h.store.readStream(stream))[2]!;
      await waitFor(async () => (await h.deadLetters(name)).length > 0, 10_000, 'a dead letter');
      const letters = await h.deadLetters(name);
      expect(letters).toEqual([{ eventId: poison.id, error: expect.stringContaining('cannot handle event 2: no such agent'), attempts: h.maxAttempts }]);
      // maxAttempts alone, plus once in its batch when it came with others
      expect(poisonAttempts).toBeGreaterThanOrEqual(h.maxAttempts);
      expect(poisonAttempts).toBeLessThanOrEqual(h.maxAttempts + 1);
      expect([...new Set(handled)].sort()).toEqual([0, 1, 3, 4]);
    });

    it('given two consumer names, then each gets every event', async () => {
      const t = uniqueTenant('bus');
      const a = recorder();
      const b = recorder();
      await consume(bus, consumerName('a'), { filter: { tenantId: t } }, a.handler);
      await consume(bus, consumerName('b'), { filter: { tenantId: t } }, b.handler);
      await appendTo(h.store, `tenant-${t}`, t, [0, 1, 2, 3, 4, 5]);
      await waitFor(() => a.seen.length >= 6 && b.seen.length >= 6, 30_000, 'both consumers');
      expect(a.seen.map((e) => e.id)).toEqual(b.seen.map((e) => e.id));
    });

    it('given two broadcast instances of one name, then each gets every event published after it started, none from before', async () => {
      const t = uniqueTenant('bus');
      const name = consumerName('pusher');
      await h.published(await appendTo(h.store, `tenant-${t}`, t, [0, 1, 2]));
      const one = recorder();
      const two = recorder();
      const other = await h.openBus();
      try {
        await consume(bus, name, { filter: { tenantId: t }, mode: 'broadcast' }, one.handler);
        await consume(other, name, { filter: { tenantId: t }, mode: 'broadcast' }, two.handler);
        await appendTo(h.store, `tenant-${t}`, t, [3, 4, 5, 6]);
        await waitFor(() => one.seen.length >= 4 && two.seen.length >= 4, 30_000, 'both instances');
        await new Promise((resolve) => setTimeout(resolve, 300));
        for (const r of [one, two]) expect(r.seen.map((e) => (e.data as { i: number }).i)).toEqual([3, 4, 5, 6]);
      } finally {
        await other.close();
      }
    });

    it('given a stopped consumer, then its lag counts the events published since', async () => {
      const t = uniqueTenant('bus');
      const name = consumerName('lag');
      const { seen, handler } = recorder();
      const s = await consume(bus, name, { filter: { tenantId: t } }, handler);
      await appendTo(h.store, `tenant-${t}`, t, [0, 1]);
      await waitFor(() => seen.length >= 2, 30_000, 'two events');
      await waitFor(async () => (await bus.lag(name)).total === 0, 10_000, 'no lag');
      await s.close();
      await h.published(await appendTo(h.store, `tenant-${t}`, t, [2, 3, 4, 5]));
      const lag = await bus.lag(name);
      expect(lag.total).toBe(4);
      expect(lag.partitions.reduce((n, p) => n + p.lag, 0)).toBe(4);
    });
  });
};
