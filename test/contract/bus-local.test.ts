import { describe, expect, it, vi } from 'vitest';
import { createInProcessBus } from '../../adapters/bus/in-process.ts';
import type { Bus } from '../../domain/ports/bus.ts';
import { createProcessedEvents } from '../../adapters/bus/processed-events.ts';
import { createSqlCheckpointStore } from '../../adapters/bus/sql-checkpoints.ts';
import { createSqlDeadLetters } from '../../adapters/bus/sql-dead-letters.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { untilVisible } from '../support/gate.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema, withSearchPath } from '../support/postgres.ts';
import { busContract } from './bus.contract.ts';
import type { BusHarness } from './bus.contract.ts';

const RETRY = { maxAttempts: 3, backoffMs: 10, maxBackoffMs: 50 };

const openLocal = (label: string, batchesAtOnce: number | undefined) => async (): Promise<BusHarness> => {
  const schema = uniqueSchema(label);
  const store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 4), { schema });
  const db = pgPoolDb(withSearchPath(schema), 4);
  const checkpoints = await createSqlCheckpointStore(db, schema);
  const deadLetters = await createSqlDeadLetters(db, schema);
  const processed = await createProcessedEvents(db, schema);
  return {
    store,
    db,
    processed,
    maxAttempts: RETRY.maxAttempts,
    openBus: async () => {
      const bus = createInProcessBus({ store, checkpoints, deadLetters, retry: RETRY });
      if (batchesAtOnce === undefined) return bus;
      // every consumer of the contract handles up to this many batches at once
      return { ...bus, consume: (consumer, options, handler) => bus.consume(consumer, { ...options, batchesAtOnce, batchSize: options.batchSize ?? 2 }, handler) } satisfies Bus;
    },
    published: (position) => untilVisible(store, position),
    deadLetters: async (consumer) => (await deadLetters.list(consumer)).map((d) => ({ eventId: d.eventId, error: d.error, attempts: d.attempts })),
    async close() {
      await store.close();
      await db.close();
      await dropSchema(schema);
    },
  };
};

busContract('in-process (BUS=local) on PostgreSQL', openLocal('bus_local', undefined));
busContract('in-process (BUS=local) on PostgreSQL, 4 batches of 2 at once', openLocal('bus_local_overlap', 4));

describe('in-process bus: what only it does', () => {
  it('with several batches at once: a slow stream holds back neither another stream nor more than its own events, and the saved position never passes it', async () => {
    const schema = uniqueSchema('bus_local_slow');
    const store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 2), { schema });
    const db = pgPoolDb(TEST_DATABASE_URL, 2);
    const checkpoints = await createSqlCheckpointStore(db, schema);
    const bus = createInProcessBus({ store, checkpoints, deadLetters: await createSqlDeadLetters(db, schema) });
    const tenant = uniqueTenant();
    const [a, b] = [`conversation-${tenant}.a`, `conversation-${tenant}.b`];
    const append = async (streamId: string, i: number) => (await store.append(streamId, [newEvent(tenant, 'Counted', { i })], 'any')).position;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    try {
      const a1 = await append(a, 1);
      for (let i = 1; i <= 3; i++) await append(b, i);
      const a2 = await append(a, 2);
      const b4 = await append(b, 4);
      const subscription = await bus.consume('slow-a', { filter: { tenantId: tenant }, batchSize: 1, batchesAtOnce: 8 }, async (events) => {
        for (const e of events) {
          const name = `${e.streamId.endsWith('.a') ? 'a' : 'b'}${(e.data as { i: number }).i}`;
          if (name === 'a1') await gate;
          seen.push(name);
        }
      });
      // b1…b4 pass the stuck a1; a2 waits for it
      await vi.waitFor(() => expect(seen).toEqual(['b1', 'b2', 'b3', 'b4']), { timeout: 10_000 });
      const stuck = (await bus.lag('slow-a')).partitions[0]!.committed;
      expect(stuck === null || BigInt(stuck) < a1).toBe(true);
      release();
      await vi.waitFor(() => expect(seen).toEqual(['b1', 'b2', 'b3', 'b4', 'a1', 'a2']), { timeout: 10_000 });
      await vi.waitFor(async () => expect((await bus.lag('slow-a')).partitions[0]!.committed).toBe(String(a2 > b4 ? a2 : b4)), { timeout: 10_000 });
      await subscription.close();
    } finally {
      release();
      await bus.close();
      await store.close();
      await db.close();
      await dropSchema(schema);
    }
  });

  it('refuses a second instance of a group consumer in one process, and names that are not names', async () => {
    const schema = uniqueSchema('bus_local_one');
    const store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 2), { schema });
    const db = pgPoolDb(TEST_DATABASE_URL, 2);
    const bus = createInProcessBus({ store, checkpoints: await createSqlCheckpointStore(db, schema), deadLetters: await createSqlDeadLetters(db, schema) });
    try {
      await bus.consume('mailer', {}, () => undefined);
      await expect(bus.consume('mailer', {}, () => undefined)).rejects.toThrow('already running');
      await expect(bus.consume('bad name!', {}, () => undefined)).rejects.toThrow('invalid consumer name');
    } finally {
      await bus.close();
      await store.close();
      await db.close();
      await dropSchema(schema);
    }
  });
});
