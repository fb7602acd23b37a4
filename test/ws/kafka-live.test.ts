import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaLiveFeed } from '../../adapters/live/kafka.ts';
import type { LiveFrame } from '../../domain/ports/live.ts';
import { KAFKA_BROKERS, needsKafka, uniqueTopic } from '../support/kafka.ts';

const frame = (seq: number): LiveFrame => ({ kind: 'agent.partial', conversationId: 'c1', inReplyTo: 'm1', text: `part ${seq}`, seq });

const until = async (check: () => boolean, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

// The live feed across processes on the real broker: every listener (pusher instance) gets every frame.
describe.skipIf(!KAFKA_BROKERS)(`Kafka live feed${needsKafka}`, () => {
  const kafka = new Kafka({ clientId: 'test-live', brokers: (KAFKA_BROKERS ?? '').split(','), logLevel: logLevel.NOTHING });
  const topic = uniqueTopic('live');
  const publisher = createKafkaLiveFeed({ kafka, topic, partitions: 2 });
  const pushers = [createKafkaLiveFeed({ kafka, topic, partitions: 2 }), createKafkaLiveFeed({ kafka, topic, partitions: 2 })];
  afterAll(async () => {
    await Promise.all([publisher, ...pushers].map((feed) => feed.close()));
  });

  it('hands every frame published after listen() to every listener, tenant attached; a message that is no live frame is dropped', async () => {
    const heard: [string, LiveFrame][][] = [[], []];
    await Promise.all(pushers.map((feed, i) => feed.listen((tenantId, f) => heard[i]!.push([tenantId, f]))));
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({ topic, messages: [{ key: 'acme', value: '{"tenantId":"acme","frame":{"kind":"agent.partial","text":1}}' }, { key: 'acme', value: 'not json' }] });
    await raw.disconnect();
    for (let seq = 1; seq <= 3; seq++) await publisher.publish(seq === 2 ? 'other' : 'acme', frame(seq));
    await until(() => heard.every((h) => h.length === 3), 'both listeners to hear three frames');
    for (const h of heard) {
      expect(h.filter(([t]) => t === 'acme').map(([, f]) => f.seq)).toEqual([1, 3]); // one tenant's frames share a partition: in order
      expect(h.find(([t]) => t === 'other')).toEqual(['other', frame(2)]);
    }
  }, 90_000);
});
