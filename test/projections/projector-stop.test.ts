import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventCodec } from '../../adapters/codec/index.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { createProjector, migrateReadModels } from '../../adapters/projections/projector.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

describe('projector lifecycle', () => {
  const events = uniqueSchema('stop_ev');
  const readModels = uniqueSchema('stop_rm');
  const db = pgPoolDb(TEST_DATABASE_URL, 2);
  let store: EventStore;
  beforeAll(async () => {
    store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 2), { schema: events });
    await migrateReadModels(db, readModels, PROJECTIONS);
  });
  afterAll(async () => {
    await store.close();
    await db.close();
    await dropSchema(events);
    await dropSchema(readModels);
  });

  it('stops promptly even when stopped right after starting (it once left a subscription running and hung)', async () => {
    for (let i = 0; i < 5; i++) {
      const projector = createProjector({ db, store, codec: createEventCodec({ keys: null }), schema: readModels, projections: PROJECTIONS });
      projector.start();
      const stopped = await Promise.race([projector.stop().then(() => true), new Promise((r) => setTimeout(() => r(false), 3_000))]);
      expect(stopped).toBe(true);
    }
  });
});
