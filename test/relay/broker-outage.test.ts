import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.ts';
import { createKafka } from '../../adapters/kafka/client.ts';
import type { KafkaSettings } from '../../adapters/kafka/client.ts';
import { createRelay } from '../../adapters/relay/relay.ts';
import type { Relay } from '../../adapters/relay/relay.ts';
import type { Bus } from '../../domain/ports/bus.ts';
import { startKafkaBroker } from '../../infra/kafka/broker.ts';
import type { Broker } from '../../infra/kafka/broker.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startStack } from '../../runtime/stack.ts';
import type { Stack } from '../../runtime/stack.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { waitFor } from '../support/gate.ts';
import { KAFKA_BROKERS, needsKafka, readTopic } from '../support/kafka.ts';
import { readWholeLog } from '../support/log.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/**
 * A broker of this test's own (the suite's shared broker must stay up for the other files), on
 * its own ports and folder, so it can be killed and started again on the same data.
 */
describe.skipIf(!KAFKA_BROKERS)(`broker down mid-stream, then back${needsKafka}`, () => {
  const schemas = { events: uniqueSchema('outage_ev'), readModels: uniqueSchema('outage_rm') };
  let broker: Broker;
  let stack: Stack;
  let relay: Relay;
  let bus: Bus;
  let settings: KafkaSettings;
  beforeAll(async () => {
    broker = await startKafkaBroker({ heap: '256m' });
    settings = { brokers: [broker.brokers], clientId: 'outage', topic: 'outage.events', deadLetterTopic: 'outage.dead-letter', partitions: 3 };
    stack = await startStack({ databaseUrl: TEST_DATABASE_URL, schemas, log: createLogger('silent') });
    relay = createRelay({ store: stack.storage.store, checkpoints: stack.storage.checkpoints, kafka: createKafka(settings), settings });
    bus = createKafkaBus({ kafka: createKafka(settings), settings });
  }, 120_000);
  afterAll(async () => {
    await relay?.stop();
    await bus?.close();
    await stack?.close();
    await broker?.stop();
    if (broker) rmSync(broker.dir, { recursive: true, force: true });
    for (const s of Object.values(schemas)) await dropSchema(s);
  });

  it('given kill -9 of the broker while commands flow, then the API keeps accepting them, the relay lag shows, and once the broker is back every event reaches the consumer', async () => {
    relay.start();
    const seen = new Set<string>();
    await bus.consume('dashboard-feed', {}, (events) => void events.forEach((e) => seen.add(e.id)));
    const operator = client(stack.baseUrl, stack.operatorKey);
    const tenant = await newTenant(operator, 'enterprise');
    const me = client(stack.baseUrl, tenant.key);
    const conversation = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'outage' }), 201).conversationId;

    let accepted = 0;
    const refused: number[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const reply = await me.post(`/conversations/${conversation}/messages`, { text: `message ${i}` });
        if (reply.status === 201) accepted++;
        else refused.push(reply.status);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    await waitFor(() => seen.size >= 20, 30_000, 'events through the broker before the outage');
    await broker.kill();
    const atOutage = { accepted, lag: (await relay.lag()).events };
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const duringOutage = await relay.lag();
    expect(accepted - atOutage.accepted, 'commands accepted while the broker is down').toBeGreaterThan(20);
    expect(duringOutage.events, 'relay lag while the broker is down').toBeGreaterThan(atOutage.lag + 20);
    expect(duringOutage.seconds).toBeGreaterThan(1);

    broker = await startKafkaBroker({ dir: broker.dir, brokerPort: broker.brokerPort, controllerPort: broker.controllerPort, heap: '256m' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    writing = false;
    await writer;
    expect(refused).toEqual([]);

    const stored = await readWholeLog(stack.storage.store);
    await waitFor(async () => (await relay.lag()).events === 0, 60_000, 'the relay to resume and catch up');
    await waitFor(() => stored.every((e) => seen.has(e.id)), 60_000, 'the consumer to get every stored event');
    const onTopic = new Set((await readTopic(broker.brokers, settings.topic)).map((m) => m.headers['event-id']));
    expect(stored.filter((e) => !onTopic.has(e.id))).toEqual([]);
    expect((await bus.lag('dashboard-feed')).total).toBe(0);
  }, 240_000);
});
