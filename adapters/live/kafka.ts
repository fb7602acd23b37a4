import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import type { Kafka, Producer } from 'kafkajs';
import { z } from 'zod';
import type { KeyService } from '../../domain/ports/keys.ts';
import type { LiveFeed, LiveFrame, LiveListener, LiveSource } from '../../domain/ports/live.ts';
import { topicEnds } from '../kafka/client.ts';
import type { KafkaLog } from '../kafka/client.ts';

/** A live frame on the wire: validated on the way in, so a bad message is dropped, never forwarded. */
const wireFrame = z.object({
  tenantId: z.string().min(1),
  frame: z.object({
    kind: z.literal('agent.partial'),
    conversationId: z.string().min(1),
    inReplyTo: z.string().min(1),
    text: z.string(),
    seq: z.number().int().nonnegative(),
  }),
});

const JOIN_TIMEOUT_MS = 30_000;

/**
 * A partial reply's text crosses Kafka sealed with its tenant's key (an agent's words may quote the
 * user, and a broker keeps a closed segment on disk for days whatever the topic's retention), bound
 * to the frame it belongs to: the tenant, the conversation, the message it answers and its place.
 */
const frameAad = (tenantId: string, f: LiveFrame) => `live ${f.kind}\0${tenantId}\0${f.conversationId}\0${f.inReplyTo}\0${f.seq}`;

/**
 * The live feed across processes: frames go to a topic of their own (key: tenant id, value
 * `{"tenantId","frame"}`), and every listener is a consumer group of its own positioned at the end,
 * so every pusher instance gets every frame published after it listens — nothing older, and
 * nothing kept: the topic's retention can be minutes. Publishing is fire-and-forget with acks=1.
 */
export const createKafkaLiveFeed = (options: {
  kafka: Kafka;
  topic: string;
  partitions: number;
  /** The tenants' data keys, to seal each frame's text; without them no frame is published (nor opened). */
  keys: KeyService | null;
  log?: KafkaLog | undefined;
}): LiveFeed & LiveSource & { close(): Promise<void> } => {
  const { kafka, topic, keys } = options;
  let producer: Promise<Producer> | undefined;
  let topicReady: Promise<void> | undefined;
  const closers = new Set<() => Promise<void>>();
  const ensureTopic = () =>
    (topicReady ??= (async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        if (!(await admin.listTopics()).includes(topic))
          await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: options.partitions, configEntries: [{ name: 'retention.ms', value: '600000' }] }] });
      } finally {
        await admin.disconnect();
      }
    })().catch((error: unknown) => {
      topicReady = undefined;
      throw error;
    }));
  const producerOf = () =>
    (producer ??= (async () => {
      await ensureTopic();
      const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      await p.connect();
      return p;
    })().catch((error: unknown) => {
      producer = undefined;
      throw error;
    }));

  return {
    async publish(tenantId: string, frame: LiveFrame) {
      try {
        const cipher = await keys?.cipherFor(tenantId);
        if (!cipher) {
          options.log?.warn?.({ topic, tenantId }, 'live frame not published: no data key to seal it with');
          return;
        }
        const sealed = { ...frame, text: cipher.seal(frameAad(tenantId, frame), frame.text) };
        const p = await producerOf();
        await p.send({ topic, acks: 1, messages: [{ key: tenantId, value: JSON.stringify({ tenantId, frame: sealed }) }] });
      } catch (error) {
        options.log?.warn?.({ err: error, topic }, 'live frame not published');
      }
    },
    async listen(listener: LiveListener) {
      await ensureTopic();
      const groupId = `${topic}.listener.${randomUUID()}`;
      const admin = kafka.admin();
      await admin.connect();
      const ends = await topicEnds(admin, topic).finally(() => admin.disconnect());
      const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100 });
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: false });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            const parsed = wireFrame.safeParse((() => {
              try {
                return JSON.parse(message.value?.toString() ?? '');
              } catch {
                return undefined;
              }
            })());
            if (!parsed.success) return options.log?.warn?.({ topic }, 'live frame dropped: not a live frame');
            const { tenantId, frame } = parsed.data;
            // a key that cannot be read now (the database, a missing master key) loses this frame, never the consumer
            const cipher = await keys?.cipherFor(tenantId).catch((error: unknown) => void options.log?.warn?.({ topic, tenantId, err: error }, 'live frame dropped: no key to open it'));
            const text = cipher?.open(frameAad(tenantId, frame), frame.text);
            if (text === undefined) return options.log?.warn?.({ topic, tenantId }, 'live frame dropped: its text does not open with the tenant\'s key');
            listener(tenantId, { ...frame, text });
          },
        });
        for (const end of ends) consumer.seek({ topic, partition: end.partition, offset: end.high });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([joined, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('live feed consumer did not join in time')), JOIN_TIMEOUT_MS)))]).finally(() =>
          clearTimeout(timer),
        );
      } catch (error) {
        // a consumer that could not start must not run on (nor keep its group) for the life of the process
        await consumer.disconnect().catch(() => undefined);
        throw error;
      }
      const close = async () => {
        closers.delete(close);
        await consumer.disconnect();
        // best effort: with Kafka down the group is left to expire, and the caller's shutdown goes on
        const cleanup = kafka.admin();
        try {
          await cleanup.connect();
          await cleanup.deleteGroups([groupId]).catch(() => undefined);
        } catch {
          // unreachable broker
        } finally {
          await cleanup.disconnect().catch(() => undefined);
        }
      };
      closers.add(close);
      return { close };
    },
    async close() {
      await Promise.all([...closers].map((close) => close()));
      await (await producer?.catch(() => undefined))?.disconnect();
    },
  };
};
