import { Partitioners } from 'kafkajs';
import type { Message } from 'kafkajs';
import pg from 'pg';
import { createSqlCheckpointStore } from '../../adapters/bus/sql-checkpoints.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { createKafka, ensureTopics } from '../../adapters/kafka/client.ts';
import type { KafkaSettings } from '../../adapters/kafka/client.ts';
import { toMessage } from '../../adapters/kafka/wire.ts';
import { createRelay } from '../../adapters/relay/relay.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { kafkaAnswers, startKafkaBroker } from '../../infra/kafka/broker.ts';
import { round } from '../lib.ts';
import type { BenchResult } from '../lib.ts';
import { benchCodec } from '../codec.ts';
import { seedLog } from './seed-log.ts';

const EVENTS = Number(process.env.BENCH_RELAY_EVENTS ?? 200_000);
const BATCH = Number(process.env.BENCH_RELAY_BATCH ?? 1_000);
const PARTITIONS = 8;

/** KAFKA_BROKERS when it answers, else a broker of this run's own (infra/kafka), stopped afterwards. */
const brokerForBench = async () => {
  const named = process.env.KAFKA_BROKERS || '127.0.0.1:9092';
  if (await kafkaAnswers(named)) return { brokers: named, stop: async () => undefined };
  const broker = await startKafkaBroker();
  return { brokers: broker.brokers, stop: () => broker.stop() };
};

const readLog = async (store: EventStore) => {
  const events: RecordedEvent[] = [];
  for (let after: bigint | undefined; ; ) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 5_000 });
    if (page.length === 0) return events;
    events.push(...page);
    after = page.at(-1)!.position;
  }
};

/**
 * Baseline: the same messages (key, headers, value byte for byte), encoded beforehand, produced
 * by a kafkajs producer with the relay's settings (idempotent, acks=all) in batches of the relay's
 * size, one batch in flight, to a fresh topic with as many partitions: Kafka's cost without the
 * store read, the encoding and the checkpoint.
 */
const produceBaseline = async (settings: KafkaSettings, messages: Message[]) => {
  const kafka = createKafka(settings);
  await ensureTopics(kafka, settings);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const started = performance.now();
  for (let i = 0; i < messages.length; i += BATCH) await producer.send({ topic: settings.topic, acks: -1, messages: messages.slice(i, i + BATCH) });
  const seconds = (performance.now() - started) / 1000;
  await producer.disconnect();
  return seconds;
};

export const relayThroughputBench = async (url: string): Promise<BenchResult> => {
  const schema = `bench_relay_${process.pid}`;
  const broker = await brokerForBench();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  const db = pgPoolDb(url, 4);
  const store = await createSqlEventStore(pgPoolDb(url, 8), { schema });
  try {
    const written = await seedLog(store, await benchCodec(db, schema, true), EVENTS);
    const events = await readLog(store);
    const messages = events.map(toMessage);
    const bytes = messages.reduce((n, m) => n + Buffer.byteLength(m.value as string), 0);
    const topicOf = (name: string): KafkaSettings => ({
      brokers: broker.brokers.split(','),
      clientId: 'bench',
      topic: `bench.${name}.${process.pid}`,
      deadLetterTopic: `bench.${name}.${process.pid}.dlq`,
      partitions: PARTITIONS,
    });
    const baseline = await produceBaseline(topicOf('baseline'), messages);

    const settings = topicOf('relay');
    const checkpoints = await createSqlCheckpointStore(db, schema);
    const kafka = createKafka(settings);
    await ensureTopics(kafka, settings);
    let relayed = 0;
    let finished!: () => void;
    const allRelayed = new Promise<void>((resolve) => (finished = resolve));
    const relay = createRelay({ store, checkpoints, kafka, settings, batchSize: BATCH, onRelayed: (batch) => (relayed += batch.length) >= events.length && finished() });
    const started = performance.now();
    relay.start();
    await allRelayed;
    const ours = (performance.now() - started) / 1000;
    await relay.stop();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await cleanup.deleteTopics({ topics: ['baseline', 'relay'].flatMap((n) => [topicOf(n).topic, topicOf(n).deadLetterTopic]) }).catch(() => undefined);
    await cleanup.disconnect();

    const perSecond = events.length / ours;
    const baselinePerSecond = events.length / baseline;
    return {
      scenario: 'relay-throughput',
      metric: 'events_per_second',
      value: round(perSecond, 0),
      unit: 'events/s',
      p50: null,
      p99: null,
      baseline: { name: 'kafkajs producing the same messages, no store read', value: round(baselinePerSecond, 0) },
      ratio: round(perSecond / baselinePerSecond),
      notes:
        `${events.length} events (${written} seeded, ${round(bytes / events.length, 0)} bytes of JSON each) from PostgreSQL to a ${PARTITIONS}-partition topic, ` +
        `batches of ${BATCH}, idempotent producer, acks=all, checkpoint saved after each acknowledged batch; relay ${round(ours)} s, baseline ${round(baseline)} s; target ≥ 20,000 events/s`,
    };
  } finally {
    await store.close();
    await db.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
    await broker.stop();
  }
};
