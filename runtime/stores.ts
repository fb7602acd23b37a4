import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { createInProcessBus } from '../adapters/bus/in-process.ts';
import { createKafkaBus } from '../adapters/bus/kafka.ts';
import { createSqlCheckpointStore } from '../adapters/bus/sql-checkpoints.ts';
import { createSqlDeadLetters } from '../adapters/bus/sql-dead-letters.ts';
import { createEventStoreDbStore } from '../adapters/event-store/eventstoredb/index.ts';
import { pgliteDb } from '../adapters/event-store/pglite.ts';
import { pgPoolDb } from '../adapters/event-store/postgres.ts';
import type { SqlDb } from '../adapters/event-store/sql/db.ts';
import { createSqlEventStore } from '../adapters/event-store/sql/store.ts';
import type { Bus } from '../domain/ports/bus.ts';
import type { CheckpointStore } from '../domain/ports/checkpoints.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import type { Config } from './config.ts';
import { kafkaOf, retryPolicyOf } from './kafka.ts';
import type { Logger } from './logger.ts';

export interface Storage {
  readonly store: EventStore;
  /** The bus BUS names: in-process over this store, or the Kafka topic the relay fills. */
  readonly bus: Bus;
  /** Log positions reached by the readers of the log (the relay, the in-process bus), in `db`. */
  readonly checkpoints: CheckpointStore;
  /** The PostgreSQL (or PGlite) database that holds the read models and checkpoints. */
  readonly db: SqlDb;
  /** The same database on connections of the projector's own, so API reads never queue in front of it. */
  readonly projectorDb: SqlDb;
  readonly describe: string;
  close(): Promise<void>;
}

/** Picks the event store, the bus and the read-model database the configuration asks for. The only place that does. */
/**
 * `role` names the process in PostgreSQL (`application_name` = `openclaw-<role>:<read-model schema>`),
 * so `pg_stat_activity` tells an API's connections from a projector's.
 */
export const openStorage = async (config: Config, role = 'service', log?: Logger): Promise<Storage> => {
  const schema = config.EVENT_STORE_SCHEMA;
  if (config.eventStore === 'pglite') {
    const dir = path.join(config.DATA_DIR, 'pglite');
    await mkdir(dir, { recursive: true });
    const pg = await PGlite.create(dir);
    const db = pgliteDb(pg, { ownsInstance: false });
    const store = await createSqlEventStore(db, { schema });
    const checkpoints = await createSqlCheckpointStore(db, schema);
    const bus = await openBus(config, { store, db, checkpoints }, log);
    return {
      store,
      bus,
      checkpoints,
      db,
      projectorDb: db,
      describe: `embedded PostgreSQL (PGlite) in ${dir}`,
      async close() {
        await bus.close();
        await store.close();
        await pg.close();
      },
    };
  }
  if (!config.DATABASE_URL) throw new Error('read models and bus checkpoints live in PostgreSQL: set DATABASE_URL');
  const name = `openclaw-${role}:${config.READ_MODEL_SCHEMA}`;
  const db = pgPoolDb(config.DATABASE_URL, config.PG_POOL_SIZE, undefined, name);
  const projectorDb = pgPoolDb(config.DATABASE_URL, 2, undefined, name);
  const store =
    config.eventStore === 'postgres'
      ? await createSqlEventStore(pgPoolDb(config.DATABASE_URL, config.PG_POOL_SIZE, undefined, name), { schema })
      : createEventStoreDbStore({ connectionString: config.EVENTSTORE_URL! });
  const checkpoints = await createSqlCheckpointStore(db, schema);
  const bus = await openBus(config, { store, db, checkpoints }, log);
  return {
    store,
    bus,
    checkpoints,
    db,
    projectorDb,
    describe: config.eventStore === 'postgres' ? 'PostgreSQL' : 'EventStoreDB + PostgreSQL read models',
    async close() {
      await bus.close();
      await store.close();
      await db.close();
      await projectorDb.close();
    },
  };
};

const openBus = async (config: Config, on: { store: EventStore; db: SqlDb; checkpoints: CheckpointStore }, log: Logger | undefined): Promise<Bus> => {
  const retry = retryPolicyOf(config);
  if (config.BUS === 'kafka') {
    const { kafka, settings } = kafkaOf(config, log, 'BUS=kafka');
    return createKafkaBus({ kafka, settings, retry, ...(log ? { log } : {}) });
  }
  const deadLetters = await createSqlDeadLetters(on.db, config.EVENT_STORE_SCHEMA);
  return createInProcessBus({
    store: on.store,
    checkpoints: on.checkpoints,
    deadLetters: {
      add: async (consumer, event, error, attempts) => {
        log?.warn({ consumer, eventId: event.id, type: event.type, attempts, err: error }, 'bus consumer gave up on an event: dead-lettered');
        await deadLetters.add(consumer, event, error, attempts);
      },
    },
    retry,
    ...(log ? { onError: (consumer: string, error: unknown) => log.error({ err: error, consumer }, 'bus consumer failed; resuming from its checkpoint') } : {}),
  });
};
