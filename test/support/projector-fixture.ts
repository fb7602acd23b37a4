import { afterAll, beforeAll } from 'vitest';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { migrateReadModels } from '../../adapters/projections/projector.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from './postgres.ts';

/**
 * A PostgreSQL event store and migrated read models in schemas of their own, for a projector test
 * file (registers its own beforeAll/afterAll; `store` is set once beforeAll ran).
 */
export const useProjectorSchemas = (prefix: string) => {
  const fixture = {
    events: uniqueSchema(`${prefix}_ev`),
    readModels: uniqueSchema(`${prefix}_rm`),
    db: pgPoolDb(TEST_DATABASE_URL, 2),
    store: undefined as unknown as EventStore,
  };
  beforeAll(async () => {
    fixture.store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 2), { schema: fixture.events });
    await migrateReadModels(fixture.db, fixture.readModels, PROJECTIONS);
  });
  afterAll(async () => {
    await fixture.store?.close();
    await fixture.db.close();
    await dropSchema(fixture.events);
    await dropSchema(fixture.readModels);
  });
  return fixture;
};
