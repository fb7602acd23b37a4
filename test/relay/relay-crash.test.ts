import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.ts';
import { createProcessedEvents } from '../../adapters/bus/processed-events.ts';
import type { ProcessedEvents } from '../../adapters/bus/processed-events.ts';
import { createSqlCheckpointStore } from '../../adapters/bus/sql-checkpoints.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { createKafka } from '../../adapters/kafka/client.ts';
import type { KafkaSettings } from '../../adapters/kafka/client.ts';
import { relayLag } from '../../adapters/relay/relay.ts';
import type { Bus, BusSubscription } from '../../domain/ports/bus.ts';
import type { CheckpointStore } from '../../domain/ports/checkpoints.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { untilVisible, waitFor } from '../support/gate.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';
import { readWholeLog } from '../support/log.ts';
import { KAFKA_BROKERS, needsKafka, readTopic, uniqueTopic } from '../support/kafka.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema, withSearchPath } from '../support/postgres.ts';

const root = path.resolve(import.meta.dirname, '../..');
const KILLS = 20;
const GROUPS = ['telegram-delivery', 'usage-meter'];

describe.skipIf(!KAFKA_BROKERS)(`relay crash safety on a real broker${needsKafka}`, () => {
  const brokers = KAFKA_BROKERS!;
  const schema = uniqueSchema('relay_crash');
  const topic = uniqueTopic('crash');
  const settings: KafkaSettings = { brokers: brokers.split(','), clientId: 'relay-crash', topic, deadLetterTopic: `${topic}.dlq`, partitions: 4 };
  let store: EventStore;
  let db: SqlDb;
  let checkpoints: CheckpointStore;
  let processed: ProcessedEvents;
  const buses: Bus[] = [];
  beforeAll(async () => {
    store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 4), { schema });
    db = pgPoolDb(withSearchPath(schema), 4);
    checkpoints = await createSqlCheckpointStore(db, schema);
    processed = await createProcessedEvents(db, schema);
    await db.exec(`CREATE TABLE effects (consumer text NOT NULL, event_id uuid NOT NULL)`);
  });
  afterAll(async () => {
    for (const bus of buses) await bus.close();
    await store?.close();
    await db?.close();
    await dropSchema(schema);
  });

  /** `openclaw-service relay` in its own process, as deployed. */
  const spawnRelay = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'relay'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: TEST_DATABASE_URL,
        EVENT_STORE: 'postgres',
        EVENT_STORE_SCHEMA: schema,
        KAFKA_BROKERS: brokers,
        KAFKA_TOPIC: topic,
        KAFKA_DEAD_LETTER_TOPIC: settings.deadLetterTopic,
        KAFKA_PARTITIONS: '4',
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const running = new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => c.toString().includes('relay running') && resolve()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    return { child, running, exited };
  };

  /** A consumer group whose effect is one row per event, deduplicated by event id; every delivery is remembered. */
  const startGroup = async (name: string, deliveries: RecordedEvent[]): Promise<BusSubscription> => {
    const bus = createKafkaBus({ kafka: createKafka(settings), settings });
    buses.push(bus);
    return bus.consume(name, {}, async (events) => {
      deliveries.push(...events);
      await processed.once(name, events, async (tx, fresh) => {
        await tx.query(`INSERT INTO effects SELECT $1, unnest($2::uuid[])`, [name, fresh.map((e) => e.id)]);
      });
    });
  };

  it(`given kill -9 of the relay ${KILLS} times under load, then every event reaches every group at least once, in order per stream, and every effect happens once`, async () => {
    const deliveries = new Map(GROUPS.map((g) => [g, [] as RecordedEvent[]]));
    for (const g of GROUPS) await startGroup(g, deliveries.get(g)!);

    const tenants = Array.from({ length: 3 }, () => uniqueTenant('crash'));
    let loading = true;
    let appended = 0;
    let lastPosition = -1n;
    const load = (async () => {
      for (let round = 0; loading; round++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        await Promise.all(
          tenants.map(async (t, n) => {
            const stream = round % 2 === 0 ? `conversation-${t}.c${round % 7}` : `knight-${t}.k${n}`;
            const events = Array.from({ length: 5 }, (_, i) => newEvent(t, 'MessagePosted', { round, i }));
            const { position } = await store.append(stream, events, 'any');
            appended += events.length;
            if (position > lastPosition) lastPosition = position;
          }),
        );
      }
    })();

    const admin = createKafka(settings).admin();
    await admin.connect();
    const onTopicNow = async () => (await admin.fetchTopicOffsets(topic).catch(() => [])).reduce((n, p) => n + Number(p.high), 0);
    for (let kill = 0; kill < KILLS; kill++) {
      const before = await onTopicNow();
      const relay = spawnRelay();
      await relay.running;
      // Every other kill lands as soon as the broker has taken this relay's first batch: the relay is
      // then between an acknowledgement and its checkpoint, or has the next batch of its backlog in
      // flight. The others land anywhere in its first 300 ms.
      if (kill % 2 === 0) await waitFor(async () => (await onTopicNow()) > before, 10_000, 'the first batch on the topic');
      else await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
      relay.child.kill('SIGKILL');
      await relay.exited;
    }
    await admin.disconnect();
    loading = false;
    await load;

    await untilVisible(store, lastPosition);
    const last = spawnRelay();
    await last.running;
    await waitFor(async () => (await relayLag({ store, checkpoints, topic })).events === 0, 60_000, 'the last relay to catch up');
    last.child.kill('SIGTERM');
    await last.exited;

    const stored = await readWholeLog(store);
    expect(stored.length).toBe(appended);
    const bus = buses[0]!;
    for (const g of GROUPS) await waitFor(async () => (await bus.lag(g)).total === 0, 60_000, `group ${g} to catch up`);

    const onTopic = await readTopic(brokers, topic);
    expect(new Set(onTopic.map((m) => m.headers['event-id']))).toEqual(new Set(stored.map((e) => e.id)));

    const revisionsOf = (events: readonly RecordedEvent[]) => {
      const byStream = new Map<string, number[]>();
      for (const e of events) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e.revision]);
      return byStream;
    };
    const storedOrder = revisionsOf(stored);
    for (const g of GROUPS) {
      const seen = deliveries.get(g)!;
      const ids = new Set<string>();
      const firstSeen = seen.filter((e) => !ids.has(e.id) && ids.add(e.id));
      expect(firstSeen.length, `${g}: every stored event delivered`).toBe(stored.length);
      expect(revisionsOf(firstSeen), `${g}: in order per stream`).toEqual(storedOrder);
      const { rows } = await db.query<{ n: number; distinct: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct FROM effects WHERE consumer = $1`,
        [g],
      );
      expect(rows[0], `${g}: one effect per event`).toEqual({ n: stored.length, distinct: stored.length });
    }
    // how many batches went out twice (the relay died between the acknowledgement and its checkpoint)
    process.stdout.write(`relay crash: ${stored.length} events, ${onTopic.length} messages on the topic\n`);
  }, 600_000); // 20 relay processes started one after another: 312 s in a full run on a loaded machine (the projector and delivery kill tests allow 480 and 600 s)
});
