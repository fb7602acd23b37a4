import { describe, it } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.ts';
import { createProcessedEvents } from '../../adapters/bus/processed-events.ts';
import { createSqlCheckpointStore } from '../../adapters/bus/sql-checkpoints.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { createKafka } from '../../adapters/kafka/client.ts';
import type { KafkaSettings } from '../../adapters/kafka/client.ts';
import { readDeadLetter } from '../../adapters/kafka/dead-letters.ts';
import { createRelay } from '../../adapters/relay/relay.ts';
import { waitFor } from '../support/gate.ts';
import { KAFKA_BROKERS, needsKafka, readTopic, uniqueTopic } from '../support/kafka.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema, withSearchPath } from '../support/postgres.ts';
import { busContract } from './bus.contract.ts';

const RETRY = { maxAttempts: 3, backoffMs: 10, maxBackoffMs: 50 };

const brokers = KAFKA_BROKERS;
if (!brokers) describe(`Bus contract: Kafka (BUS=kafka)${needsKafka}`, () => it.skip('needs a broker', () => undefined));
else
  busContract('Kafka (BUS=kafka), fed by the relay from PostgreSQL', async () => {
    const schema = uniqueSchema('bus_kafka');
    const topic = uniqueTopic('bus');
    const settings: KafkaSettings = { brokers: brokers.split(','), clientId: 'bus-contract', topic, deadLetterTopic: `${topic}.dlq`, partitions: 3 };
    const store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 4), { schema });
    const db = pgPoolDb(withSearchPath(schema), 4);
    const checkpoints = await createSqlCheckpointStore(db, schema);
    const processed = await createProcessedEvents(db, schema);
    const relay = createRelay({ store, checkpoints, kafka: createKafka(settings), settings });
    relay.start();
    const buses: ReturnType<typeof createKafkaBus>[] = [];
    return {
      store,
      db,
      processed,
      maxAttempts: RETRY.maxAttempts,
      openBus: async () => {
        const bus = createKafkaBus({ kafka: createKafka(settings), settings, retry: RETRY });
        buses.push(bus);
        return bus;
      },
      published: (position) =>
        waitFor(async () => BigInt((await relay.lag()).checkpoint ?? -1) >= position, 30_000, `the relay to have acknowledged ${position}`),
      deadLetters: async (consumer) =>
        (await readTopic(brokers, settings.deadLetterTopic))
          .map(readDeadLetter)
          .filter((d) => d.consumer === consumer)
          .map((d) => ({ eventId: d.eventId ?? '', error: d.error, attempts: d.attempts })),
      async close() {
        await relay.stop();
        await Promise.all(buses.map((b) => b.close()));
        await store.close();
        await db.close();
        await dropSchema(schema);
      },
    };
  });
