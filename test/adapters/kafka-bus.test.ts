import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.ts';
import { createProcessedEvents } from '../../adapters/bus/processed-events.ts';
import type { ProcessedEvents } from '../../adapters/bus/processed-events.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { createKafka, ensureTopics } from '../../adapters/kafka/client.ts';
import type { KafkaSettings } from '../../adapters/kafka/client.ts';
import { readDeadLetter } from '../../adapters/kafka/dead-letters.ts';
import { toMessage } from '../../adapters/kafka/wire.ts';
import type { BusHandler } from '../../domain/ports/bus.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { waitFor } from '../support/gate.ts';
import { meta } from '../support/ids.ts';
import { KAFKA_BROKERS, needsKafka, readTopic, uniqueTopic } from '../support/kafka.ts';
import { dropSchema, uniqueSchema, withSearchPath } from '../support/postgres.ts';

/** Events as the relay would publish them, without a store: these cases are about the consuming side. */
const eventsOf = (tenant: string, streams: number, perStream: number): RecordedEvent[] =>
  Array.from({ length: streams * perStream }, (_, n) => {
    const stream = n % streams;
    return {
      id: randomUUID(),
      streamId: `conversation-${tenant}.s${stream}`,
      revision: Math.floor(n / streams),
      position: BigInt(n + 1),
      type: 'MessagePosted',
      data: { n },
      metadata: meta(tenant),
      recordedAt: new Date(),
    };
  });

describe.skipIf(!KAFKA_BROKERS)(`Kafka bus: rebalances and bad messages${needsKafka}`, () => {
  const brokers = KAFKA_BROKERS!;
  const schema = uniqueSchema('kbus');
  const topic = uniqueTopic('kbus');
  const settings: KafkaSettings = { brokers: brokers.split(','), clientId: 'kafka-bus-test', topic, deadLetterTopic: `${topic}.dlq`, partitions: 4 };
  const kafka = createKafka(settings);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  let db: SqlDb;
  let processed: ProcessedEvents;
  beforeAll(async () => {
    await ensureTopics(kafka, settings);
    await producer.connect();
    db = pgPoolDb(withSearchPath(schema), 4);
    await db.exec(`CREATE SCHEMA ${schema}`);
    processed = await createProcessedEvents(db, schema);
    await db.exec(`CREATE TABLE effects (event_id uuid NOT NULL)`);
  });
  afterAll(async () => {
    await producer.disconnect();
    await db.close();
    await dropSchema(schema);
  });

  it('given a second instance joining mid-stream and the first leaving mid-stream, then nothing is lost, order holds per stream, and each effect happens once', async () => {
    const events = eventsOf('rebalance', 20, 100);
    const delivered: RecordedEvent[] = [];
    const byInstance = [0, 0];
    const handlerOf = (instance: number): BusHandler => async (batch) => {
      byInstance[instance]! += batch.length;
      delivered.push(...batch);
      await processed.once('billing', batch, async (tx, fresh) => {
        await tx.query(`INSERT INTO effects SELECT unnest($1::uuid[])`, [fresh.map((e) => e.id)]);
      });
    };
    const first = createKafkaBus({ kafka: createKafka(settings), settings });
    const second = createKafkaBus({ kafka: createKafka(settings), settings });
    try {
      const one = await first.consume('billing', { batchSize: 20 }, handlerOf(0));
      const publishing = (async () => {
        for (let i = 0; i < events.length; i += 50) {
          await producer.send({ topic, acks: -1, messages: events.slice(i, i + 50).map(toMessage) });
          await new Promise((resolve) => setTimeout(resolve, 40));
        }
      })();
      await waitFor(() => delivered.length > 300, 30_000, 'the first instance to get going');
      await second.consume('billing', { batchSize: 20 }, handlerOf(1));
      await waitFor(() => delivered.length > 1_000, 30_000, 'both instances to get going');
      await one.close();
      await publishing;
      await waitFor(async () => (await second.lag('billing')).total === 0, 60_000, 'the group to catch up');

      expect(byInstance.every((n) => n > 0), `both instances handled events: ${byInstance}`).toBe(true);
      const ids = new Set<string>();
      const firstSeen = delivered.filter((e) => !ids.has(e.id) && ids.add(e.id));
      expect(firstSeen.length).toBe(events.length);
      const order = (list: readonly RecordedEvent[]) => list.map((e) => `${e.streamId}#${e.revision}`).sort();
      expect(order(firstSeen)).toEqual(order(events));
      for (let s = 0; s < 20; s++) {
        const revisions = firstSeen.filter((e) => e.streamId === `conversation-rebalance.s${s}`).map((e) => e.revision);
        expect(revisions).toEqual([...Array(100).keys()]);
      }
      const { rows } = await db.query<{ n: number; d: number }>(`SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM effects`);
      expect(rows[0]).toEqual({ n: events.length, d: events.length });
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('given a message that is not an event, then it goes to the dead-letter topic as it was, and the events after it are handled', async () => {
    const [before, after] = eventsOf('garbage', 1, 2);
    await producer.send({
      topic,
      acks: -1,
      messages: [toMessage(before!), { key: before!.streamId, value: '{"not": "an event"', headers: { 'event-id': 'x', 'tenant-id': 'garbage' } }, toMessage(after!)],
    });
    const bus = createKafkaBus({ kafka: createKafka(settings), settings });
    const seen: string[] = [];
    try {
      await bus.consume('garbage-reader', { filter: { tenantId: 'garbage' } }, (batch) => void seen.push(...batch.map((e) => e.id)));
      await waitFor(() => seen.includes(after!.id), 30_000, 'the event after the bad message');
    } finally {
      await bus.close();
    }
    expect(seen).toEqual([before!.id, after!.id]);
    const letters = (await readTopic(brokers, settings.deadLetterTopic)).filter((m) => m.headers['dead-letter-consumer'] === 'garbage-reader');
    expect(letters).toHaveLength(1);
    expect(letters[0]!.value).toBe('{"not": "an event"');
    expect(readDeadLetter({ headers: letters[0]!.headers, value: letters[0]!.value })).toMatchObject({
      attempts: 0,
      error: expect.stringMatching(/JSON/),
      from: { topic },
    });
  });
});
