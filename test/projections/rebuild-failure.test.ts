import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventCodec } from '../../adapters/codec/index.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { migrateReadModels } from '../../adapters/projections/projector.ts';
import { rebuildProjections } from '../../adapters/projections/rebuild.ts';
import { readCheckpoint } from '../../adapters/projections/projector.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { seedLog } from '../../bench/scenarios/seed-log.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/** A failing page read or projection transaction stops the whole rebuild cleanly (the live tables untouched); a rerun finishes it. */
describe('rebuild failures', () => {
  const events = uniqueSchema('rbf_ev');
  const readModels = uniqueSchema('rbf_rm');
  let db: SqlDb;
  let storeDb: SqlDb;
  let store: EventStore;
  let seeded = 0;
  // written in plaintext (no keys): a rebuild decodes without decrypting either way
  const codec = createEventCodec({ keys: null, plaintextWithoutKeys: true });
  beforeAll(async () => {
    db = pgPoolDb(TEST_DATABASE_URL, 8);
    storeDb = pgPoolDb(TEST_DATABASE_URL, 4);
    store = await createSqlEventStore(storeDb, { schema: events });
    seeded = await seedLog(store, codec, 1); // one tenant: about 5,000 events
    await migrateReadModels(db, readModels, PROJECTIONS);
  });
  afterAll(async () => {
    await store?.close();
    await db?.close();
    await dropSchema(events);
    await dropSchema(readModels);
  });

  /** Counts transactions, and can make the n-th one fail. */
  const counting = (failAt = Number.POSITIVE_INFINITY) => {
    let started = 0;
    const wrapped: SqlDb = {
      ...db,
      query: (t, p) => db.query(t, p),
      exec: (t) => db.exec(t),
      listen: (c, f) => db.listen(c, f),
      close: () => db.close(),
      transaction(fn, before, prelude) {
        started += 1;
        if (started === failAt) return Promise.reject(new Error('transaction failed'));
        return db.transaction(fn, before, prelude);
      },
    };
    return { db: wrapped, started: () => started };
  };

  it('a page read that fails ahead of the projections fails the rebuild, with nothing left running', async () => {
    let reads = 0;
    const failing: EventStore = { ...store, readAll: (o) => (++reads === 4 ? Promise.reject(new Error('read failed')) : store.readAll(o)) };
    const tx = counting();
    await expect(rebuildProjections({ db: tx.db, store: failing, codec, schema: readModels, projections: PROJECTIONS, batchSize: 500 })).rejects.toThrow(
      'read failed',
    );
    const after = tx.started();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(tx.started()).toBe(after);
  });

  it('a projection transaction that fails stops the others; a rerun builds everything', async () => {
    const tx = counting(15);
    await expect(rebuildProjections({ db: tx.db, store, codec, schema: readModels, projections: PROJECTIONS, batchSize: 500 })).rejects.toThrow(
      'transaction failed',
    );
    const after = tx.started();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(tx.started()).toBe(after);

    const progress: number[] = [];
    const result = await rebuildProjections({ db, store, codec, schema: readModels, projections: PROJECTIONS, batchSize: 500, onProgress: (p) => progress.push(p.applied) });
    expect(result.applied).toBe(seeded);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(seeded);
    expect(await readCheckpoint(db, { schema: readModels, suffix: '' }, PROJECTIONS)).toBe(await store.headPosition());
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${readModels}.messages`);
    expect(rows[0]!.n).toBeGreaterThan(4_000);
  });
});
