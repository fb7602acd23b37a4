import path from 'node:path';
import { chmod, mkdir } from 'node:fs/promises';
import { createInProcessBus } from '../adapters/bus/in-process.ts';
import { createSqlCheckpointStore } from '../adapters/bus/sql-checkpoints.ts';
import { createSqlDeadLetters } from '../adapters/bus/sql-dead-letters.ts';
import { createEventCodec } from '../adapters/codec/index.ts';
import { createSqlKeyService } from '../adapters/crypto/key-service.ts';
import type { MasterKeys } from '../adapters/crypto/master-keys.ts';
import { pgliteDb } from '../adapters/event-store/pglite.ts';
import { pgPoolDb } from '../adapters/event-store/postgres.ts';
import type { SqlDb } from '../adapters/event-store/sql/db.ts';
import { createSqlEventStore } from '../adapters/event-store/sql/store.ts';
import type { Bus } from '../domain/ports/bus.ts';
import type { CheckpointStore } from '../domain/ports/checkpoints.ts';
import type { EventCodec } from '../domain/ports/codec.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import type { KeyService } from '../domain/ports/keys.ts';
import { hasCode } from '../domain/shared/errors.ts';
import type { Config } from './config.ts';
import { ConfigError } from './config.ts';
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
  /** The tenants' data keys, or null in a process that holds no master key (it decodes without decrypting). */
  readonly keys: KeyService | null;
  /** The only way events are written and read by the rest of the platform. */
  readonly codec: EventCodec;
  readonly describe: string;
  close(): Promise<void>;
}

export interface StorageOptions {
  /** The master keys (see runtime/encryption.ts); without them the process holds no data keys. */
  readonly master?: MasterKeys | undefined;
  readonly log?: Logger | undefined;
}

/**
 * Data keys live in the database beside the event log (for EventStoreDB, the PostgreSQL of the read
 * models). A data key wrapped by a master key this process lacks stops the start, naming the key.
 */
const openKeys = async (db: SqlDb, schema: string, master: MasterKeys | undefined): Promise<KeyService | null> => {
  if (!master) return null;
  const keys = await createSqlKeyService({ db, schema, master });
  try {
    await keys.assertMasterKeys();
  } catch (error) {
    if (hasCode(error, 'master_key_missing')) throw new ConfigError(`invalid configuration: ENCRYPTION_KEY: ${(error as Error).message}`);
    throw error;
  }
  return keys;
};

export const codecOf = (keys: KeyService | null): EventCodec => createEventCodec({ keys });

/**
 * Picks the event store, the bus, the keys and the read-model database the configuration asks
 * for: the only place that does. `role` names the process in PostgreSQL (`application_name` =
 * `openclaw-<role>:<read-model schema>`), so `pg_stat_activity` tells an API's connections from a
 * projector's.
 */
export const openStorage = async (config: Config, role = 'service', options: StorageOptions = {}): Promise<Storage> => {
  const schema = config.EVENT_STORE_SCHEMA;
  const { log } = options;
  if (config.eventStore === 'pglite') {
    const dir = path.join(config.DATA_DIR, 'pglite');
    // PGlite writes its files 0666 whatever the umask: only this user may enter the directory
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const { PGlite } = await import('@electric-sql/pglite'); // loaded only for the embedded default
    const pg = await PGlite.create(dir);
    const db = pgliteDb(pg, { ownsInstance: false });
    const store = await createSqlEventStore(db, { schema });
    const opened = await Promise.all([createSqlCheckpointStore(db, schema), openKeys(db, schema, options.master)]).catch(async (error: unknown) => {
      await store.close();
      await pg.close();
      throw error;
    });
    const [checkpoints, keys] = opened;
    const bus = await openBus(config, { store, db, checkpoints }, log);
    return {
      store,
      bus,
      checkpoints,
      db,
      projectorDb: db,
      keys,
      codec: codecOf(keys),
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
      : // loaded only when used: its gRPC client alone takes about a second to import
        (await import('../adapters/event-store/eventstoredb/index.ts')).createEventStoreDbStore({ connectionString: config.EVENTSTORE_URL! });
  const [checkpoints, keys] = await Promise.all([createSqlCheckpointStore(db, schema), openKeys(db, schema, options.master)]).catch(
    async (error: unknown) => {
      await Promise.all([store.close(), db.close(), projectorDb.close()]);
      throw error;
    },
  );
  const bus = await openBus(config, { store, db, checkpoints }, log);
  return {
    store,
    bus,
    checkpoints,
    db,
    projectorDb,
    keys,
    codec: codecOf(keys),
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
    const { createKafkaBus } = await import('../adapters/bus/kafka.ts'); // kafkajs loads only where it is used
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
