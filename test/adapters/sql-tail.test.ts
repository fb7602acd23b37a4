import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import type { EventFilter, EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/**
 * The SQL store's subscriptions share one reader of the log's head (adapters/event-store/sql/tail.ts):
 * every subscriber must still get exactly its events, in order, whether it is live, catching up,
 * or so slow that the tail's memory no longer holds where it is.
 */
describe('subscriptions sharing the tail of the log (PostgreSQL)', () => {
  const schema = uniqueSchema('tail');
  const stores: EventStore[] = [];
  const open = async (tailCapacity?: number) => {
    const store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 6, ...(tailCapacity ? { tailCapacity } : {}) });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await dropSchema(schema);
  });

  const collect = (store: EventStore, filter: EventFilter | undefined, after?: bigint, slowMs = 0) => {
    const got: RecordedEvent[] = [];
    const subscription = store.subscribe({ ...(after !== undefined ? { after } : {}), ...(filter ? { filter } : {}), batchSize: 7 }, async (events) => {
      got.push(...events);
      if (slowMs) await new Promise((resolve) => setTimeout(resolve, slowMs));
    });
    return { got, subscription };
  };

  const until = async (check: () => boolean | Promise<boolean>, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('gives live, filtered, late and slow subscribers exactly their events in order while appends race', async () => {
    // a tail that holds only 40 events: the slow subscriber falls out of it and must read the log
    const store = await open(40);
    const writer = await open();
    const [a, b] = [uniqueTenant(), uniqueTenant()];
    const start = await store.headPosition();
    const all = collect(store, { tenantId: a }, start);
    const knights = collect(store, { categories: ['knight'], tenantId: a }, start);
    const typed = collect(store, { tenantId: b, eventTypes: ['Special'] }, start);
    const slow = collect(store, { tenantId: a }, start, 15);

    const written: { id: string; tenant: string; stream: string; type: string }[] = [];
    const appendSome = async (from: number, to: number) =>
      Promise.all(
        Array.from({ length: to - from }, async (_, k) => {
          const i = from + k;
          const tenant = i % 3 === 0 ? b : a;
          const stream = i % 2 === 0 ? `knight-${tenant}.k${i % 4}` : `conversation-${tenant}.c${i % 5}`;
          const type = i % 7 === 0 ? 'Special' : 'Other';
          const event = newEvent(tenant, type, { i });
          // from two store instances, so both the in-process wake-up and NOTIFY are exercised
          await (i % 2 === 0 ? store : writer).append(stream, [event], 'any');
          written.push({ id: event.id, tenant, stream, type });
        }),
      );
    await appendSome(0, 150);
    // one subscriber joins late, from the start: it catches up from the log, then joins the tail
    const late = collect(store, { tenantId: a }, start);
    await appendSome(150, 300);

    // readAll stops at the visibility horizon, which any open transaction in the database holds back
    let log: RecordedEvent[] = [];
    await until(async () => (log = await store.readAll({ ...(start !== undefined ? { after: start } : {}), maxCount: 10_000 })).length === 300, 'all 300 events to be visible');
    const ids = (filter: (e: RecordedEvent) => boolean) => log.filter(filter).map((e) => e.id);
    const ofA = ids((e) => e.metadata.tenantId === a);
    const expected = [
      [all, ofA],
      [knights, ids((e) => e.metadata.tenantId === a && e.streamId.startsWith('knight-'))],
      [typed, ids((e) => e.metadata.tenantId === b && e.type === 'Special')],
      [slow, ofA],
      [late, ofA],
    ] as const;
    expect(log).toHaveLength(300);
    for (const [sub, want] of expected) await until(() => sub.got.length >= want.length, 'every subscriber to catch up');
    await new Promise((resolve) => setTimeout(resolve, 200)); // nothing more may arrive
    for (const [sub, want] of expected) expect(sub.got.map((e) => e.id)).toEqual(want);
    expect(ofA.length).toBeGreaterThan(100);
    await Promise.all(expected.map(([sub]) => sub.subscription.close()));
  });

  it('keeps delivering after every subscriber left and a new one came', async () => {
    const store = await open();
    const t = uniqueTenant();
    const first = collect(store, { tenantId: t }, await store.headPosition());
    await store.append(`tenant-${t}`, [newEvent(t)], 'any');
    await until(() => first.got.length === 1, 'the first event');
    await first.subscription.close();
    const head = await store.headPosition();
    await store.append(`tenant-${t}`, [newEvent(t)], 'any');
    const second = collect(store, { tenantId: t }, head);
    await store.append(`tenant-${t}`, [newEvent(t)], 'any');
    await until(() => second.got.length === 2, 'both later events');
    expect(second.got.map((e) => e.revision)).toEqual([1, 2]);
    await second.subscription.close();
  });
});
