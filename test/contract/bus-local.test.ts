import { describe, expect, it } from 'vitest';
import { createInProcessBus } from '../../adapters/bus/in-process.ts';
import { createProcessedEvents } from '../../adapters/bus/processed-events.ts';
import { createSqlCheckpointStore } from '../../adapters/bus/sql-checkpoints.ts';
import { createSqlDeadLetters } from '../../adapters/bus/sql-dead-letters.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { untilVisible } from '../support/gate.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema, withSearchPath } from '../support/postgres.ts';
import { busContract } from './bus.contract.ts';

const RETRY = { maxAttempts: 3, backoffMs: 10, maxBackoffMs: 50 };

busContract('in-process (BUS=local) on PostgreSQL', async () => {
  const schema = uniqueSchema('bus_local');
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
    openBus: async () => createInProcessBus({ store, checkpoints, deadLetters, retry: RETRY }),
    published: (position) => untilVisible(store, position),
    deadLetters: async (consumer) => (await deadLetters.list(consumer)).map((d) => ({ eventId: d.eventId, error: d.error, attempts: d.attempts })),
    async close() {
      await store.close();
      await db.close();
      await dropSchema(schema);
    },
  };
});

describe('in-process bus: what only it does', () => {
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
