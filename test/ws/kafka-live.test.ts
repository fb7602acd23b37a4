import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaLiveFeed } from '../../adapters/live/kafka.ts';
import type { KeyService } from '../../domain/ports/keys.ts';
import type { LiveFrame } from '../../domain/ports/live.ts';
import { openTestCodec } from '../support/codec.ts';
import { KAFKA_BROKERS, needsKafka, uniqueTopic } from '../support/kafka.ts';
import { dropSchema, uniqueSchema } from '../support/postgres.ts';

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
  const schema = uniqueSchema('live_keys');
  let keys: KeyService;
  let closeKeys: () => Promise<void>;
  const feeds: ReturnType<typeof createKafkaLiveFeed>[] = [];
  const feed = (options: { keys?: KeyService; topic?: string; partitions?: number } = {}) => (
    feeds.push(createKafkaLiveFeed({ kafka, topic: options.topic ?? topic, partitions: options.partitions ?? 2, keys: options.keys ?? keys })), feeds.at(-1)!
  );
  beforeAll(async () => {
    ({ keys, close: closeKeys } = await openTestCodec(schema));
    for (const t of ['acme', 'other', 'broken']) await keys.cipherFor(t, { create: true });
  });
  afterAll(async () => {
    await Promise.all(feeds.map((f) => f.close()));
    await closeKeys?.();
    await dropSchema(schema);
  });

  it('hands every frame published after listen() to every listener, tenant attached; a message that is no live frame is dropped; the text crosses Kafka sealed', async () => {
    const publisher = feed();
    const pushers = [feed(), feed()];
    const heard: [string, LiveFrame][][] = [[], []];
    await Promise.all(pushers.map((feed, i) => feed.listen((tenantId, f) => heard[i]!.push([tenantId, f]))));
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({ topic, messages: [{ key: 'acme', value: '{"tenantId":"acme","frame":{"kind":"agent.partial","text":1}}' }, { key: 'acme', value: 'not json' }, { key: 'acme', value: JSON.stringify({ tenantId: 'acme', frame: { ...frame(9), text: 'forged in clear' } }) }] });
    await raw.disconnect();
    for (let seq = 1; seq <= 3; seq++) await publisher.publish(seq === 2 ? 'other' : 'acme', frame(seq));
    await until(() => heard.every((h) => h.length === 3), 'both listeners to hear three frames');
    for (const h of heard) {
      expect(h.filter(([t]) => t === 'acme').map(([, f]) => f.seq)).toEqual([1, 3]); // one tenant's frames share a partition: in order
      expect(h.find(([t]) => t === 'other')).toEqual(['other', frame(2)]);
    }
    // what the broker keeps: our frames with their text sealed (the one forged in clear was not heard)
    const onTopic: string[] = [];
    const reader = kafka.consumer({ groupId: `${topic}.reader`, maxWaitTimeInMs: 100 });
    await reader.connect();
    await reader.subscribe({ topics: [topic], fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void onTopic.push(message.value?.toString() ?? '') });
    await until(() => onTopic.length === 6, 'the six messages on the topic').finally(() => reader.disconnect());
    expect(onTopic.filter((v) => v.includes('agent.partial') && v.includes('"seq"') && !v.includes('forged'))).toHaveLength(3);
    expect(onTopic.filter((v) => v.includes('part '))).toEqual([]);
  }, 90_000);

  it("a key that cannot be read (the key store away, a damaged key) loses that frame only: the next ones on the partition still arrive", async () => {
    const single = uniqueTopic('live-one');
    const failing: KeyService = { ...keys, cipherFor: (t, o) => (t === 'broken' ? Promise.reject(new Error('key store unreachable')) : keys.cipherFor(t, o)) };
    const publisher = feed({ topic: single, partitions: 1 });
    const pusher = feed({ topic: single, partitions: 1, keys: failing });
    const heard: [string, LiveFrame][] = [];
    await pusher.listen((tenantId, f) => heard.push([tenantId, f]));
    await publisher.publish('broken', frame(7));
    for (let seq = 1; seq <= 3; seq++) await publisher.publish('acme', frame(seq));
    await until(() => heard.length === 3, 'the three frames after the one that could not be opened', 20_000);
    expect(heard).toEqual([1, 2, 3].map((seq) => ['acme', frame(seq)]));
  }, 60_000);
});
