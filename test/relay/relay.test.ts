import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.ts';
import { createProcessedEvents } from '../../adapters/bus/processed-events.ts';
import { createSqlCheckpointStore } from '../../adapters/bus/sql-checkpoints.ts';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { createKafka } from '../../adapters/kafka/client.ts';
import type { KafkaSettings } from '../../adapters/kafka/client.ts';
import { createRelay } from '../../adapters/relay/relay.ts';
import type { CheckpointStore } from '../../domain/ports/checkpoints.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { untilVisible, waitFor } from '../support/gate.ts';
import { meta, newEvent, uniqueTenant } from '../support/ids.ts';
import { KAFKA_BROKERS, needsKafka, readTopic, uniqueTopic } from '../support/kafka.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema, withSearchPath } from '../support/postgres.ts';

/** Events `{ i }` for i in [from, to) on the tenant's stream, one append each; the last one's position. */
const appendEach = async (store: EventStore, t: string, from: number, to: number) => {
  let last = -1n;
  for (let i = from; i < to; i++) last = (await store.append(`tenant-${t}`, [newEvent(t, 'E', { i })], 'any')).position;
  return last;
};

interface Log {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  close(): Promise<void>;
}

/** The relay reads through the EventStore port, so it runs on every store this machine has. */
const stores: Record<string, () => Promise<Log>> = {
  PostgreSQL: async () => {
    const schema = uniqueSchema('relay');
    const db = pgPoolDb(TEST_DATABASE_URL, 4);
    const store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 4), { schema });
    const checkpoints = await createSqlCheckpointStore(db, schema);
    return { store, checkpoints, close: async () => (await store.close(), await db.close(), await dropSchema(schema)) };
  },
  'embedded PGlite': async () => {
    const pg = await PGlite.create();
    const store = await createSqlEventStore(pgliteDb(pg, { ownsInstance: false }));
    const checkpoints = await createSqlCheckpointStore(pgliteDb(pg, { ownsInstance: false }));
    return { store, checkpoints, close: async () => (await store.close(), await pg.close()) };
  },
};

describe.skipIf(!KAFKA_BROKERS).each(Object.keys(stores))(`relay: store → Kafka, from %s${needsKafka}`, (storeName) => {
  const brokers = KAFKA_BROKERS!;
  const opened: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const o of opened.reverse()) await o.close();
  });
  const relayOn = async (partitions = 4) => {
    const log = await stores[storeName]!();
    const topic = uniqueTopic('relay');
    const settings: KafkaSettings = { brokers: brokers.split(','), clientId: 'relay-test', topic, deadLetterTopic: `${topic}.dlq`, partitions };
    const relay = createRelay({ ...log, kafka: createKafka(settings), settings, batchSize: 50 });
    opened.push(log, { close: () => relay.stop() });
    return { ...log, relay, topic };
  };

  it('given events of several streams, then each is on the topic once, keyed by its stream, in order per stream, in the documented format', async () => {
    const { store, relay, topic } = await relayOn();
    const t = uniqueTenant('relay');
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const streams = [`tenant-${t}`, `conversation-${t}.c1`, `knight-${t}.k1`];
    let last = -1n;
    for (let i = 0; i < 120; i++) {
      const event = { ...newEvent(t, `Happened${i % 2}`, { i, nested: { text: 'héllo ✓', list: [1, null, true] } }), metadata: meta(t, i % 3 === 0 ? { traceparent } : {}) };
      last = (await store.append(streams[i % 3]!, [event], 'any')).position;
    }
    await untilVisible(store, last);
    relay.start();
    const stored = await store.readAll();
    await waitFor(async () => (await relay.lag()).events === 0, 30_000, 'the relay to catch up');

    const messages = await readTopic(brokers, topic);
    expect(messages).toHaveLength(stored.length);
    const byId = new Map(messages.map((m) => [m.headers['event-id'], m]));
    for (const event of stored) {
      const m = byId.get(event.id)!;
      expect(m.key).toBe(event.streamId);
      expect(m.headers).toEqual({ 'event-id': event.id, 'event-type': event.type, 'tenant-id': t, ...(event.metadata.traceparent ? { traceparent } : {}) });
      expect(JSON.parse(m.value!)).toEqual({
        id: event.id,
        streamId: event.streamId,
        revision: event.revision,
        position: String(event.position),
        type: event.type,
        data: event.data,
        metadata: event.metadata,
        recordedAt: event.recordedAt.toISOString(),
      });
    }
    for (const stream of streams) {
      const ofStream = messages.filter((m) => m.key === stream);
      expect(new Set(ofStream.map((m) => m.partition)).size).toBe(1);
      expect(ofStream.map((m) => JSON.parse(m.value!).revision)).toEqual([...Array(40).keys()]);
    }
  });

  it('given a relay stopped and started again, then it goes on from its checkpoint: nothing twice after a clean stop, nothing missing', async () => {
    const { store, relay, topic, checkpoints } = await relayOn(2);
    const t = uniqueTenant('relay');
    await untilVisible(store, await appendEach(store, t, 0, 30));
    relay.start();
    await waitFor(async () => (await relay.lag()).events === 0, 30_000, 'the first 30');
    await relay.stop();
    await untilVisible(store, await appendEach(store, t, 30, 50));
    expect((await relay.lag()).events).toBe(20);
    const again = createRelay({ store, checkpoints, kafka: createKafka({ brokers: brokers.split(','), clientId: 'relay-test' }), settings: { topic, deadLetterTopic: `${topic}.dlq`, partitions: 2 } });
    again.start();
    await waitFor(async () => (await again.lag()).events === 0, 30_000, 'the other 20');
    await again.stop();
    const values = (await readTopic(brokers, topic)).map((m) => JSON.parse(m.value!).data.i as number);
    expect(values).toEqual([...Array(50).keys()]);
  });
});

describe.skipIf(!KAFKA_BROKERS)(`relay: a batch sent twice is harmless downstream${needsKafka}`, () => {
  const brokers = KAFKA_BROKERS!;
  const schema = uniqueSchema('resend');
  afterAll(() => dropSchema(schema));

  it('given the checkpoint cannot be saved after the broker acknowledged, then the batch goes out again, and a consumer deduplicating by event id has each effect once', async () => {
    const store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 4), { schema });
    const db = pgPoolDb(withSearchPath(schema), 4);
    const saved = await createSqlCheckpointStore(db, schema);
    let refusals = 2;
    const checkpoints: CheckpointStore = {
      load: saved.load,
      save: async (reader, position) => {
        if (refusals-- > 0) throw new Error('connection to the database lost');
        await saved.save(reader, position);
      },
    };
    const topic = uniqueTopic('resend');
    const settings: KafkaSettings = { brokers: brokers.split(','), clientId: 'relay-test', topic, deadLetterTopic: `${topic}.dlq`, partitions: 2 };
    const processed = await createProcessedEvents(db, schema);
    await db.exec(`CREATE TABLE effects (event_id uuid NOT NULL)`);
    const bus = createKafkaBus({ kafka: createKafka(settings), settings });
    const relay = createRelay({ store, checkpoints, kafka: createKafka(settings), settings });
    try {
      const t = uniqueTenant('resend');
      await untilVisible(store, await appendEach(store, t, 0, 10));
      relay.start();
      await waitFor(async () => (await relay.lag()).events === 0, 30_000, 'the relay to get past the refusals');
      const deliveries: string[] = [];
      await bus.consume('mailer', {}, async (events) => {
        deliveries.push(...events.map((e) => e.id));
        await processed.once('mailer', events, async (tx, fresh) => {
          for (const e of fresh) await tx.query(`INSERT INTO effects VALUES ($1)`, [e.id]);
        });
      });
      await waitFor(async () => (await bus.lag('mailer')).total === 0 && deliveries.length >= 30, 30_000, 'the consumer to read the topic');
      const messages = await readTopic(brokers, topic);
      expect(messages).toHaveLength(30); // the same 10 events, sent three times
      expect(new Set(messages.map((m) => m.headers['event-id'])).size).toBe(10);
      const { rows } = await db.query<{ n: number; d: number }>(`SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM effects`);
      expect(rows[0]).toEqual({ n: 10, d: 10 });
    } finally {
      await relay.stop();
      await bus.close();
      await store.close();
      await db.close();
    }
  });
});
