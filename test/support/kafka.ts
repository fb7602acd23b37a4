import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { topicEnds } from '../../adapters/kafka/client.ts';

/**
 * The broker the suite runs against: `npm test` starts one (infra/kafka/) and exports
 * KAFKA_BROKERS; a bare `npx vitest run` without it skips the Kafka suites and says why.
 */
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS || undefined;

/** Appended to a Kafka suite's name, so a skipped run says why it skipped. */
export const needsKafka = KAFKA_BROKERS
  ? ''
  : ' [skipped: KAFKA_BROKERS is not set; `npm test` starts a broker, or point KAFKA_BROKERS at one]';

/** A topic name no other test or run uses. */
export const uniqueTopic = (prefix = 'test') => `${prefix}.${process.pid}.${randomBytes(4).toString('hex')}`;

export interface ReadMessage {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
}

/** The partitions' offsets; a topic another process has just created may not have its leaders known here yet. */
const offsetsOf = async (admin: Admin, topic: string) => ((await admin.listTopics()).includes(topic) ? topicEnds(admin, topic) : []);

/**
 * Every message `topic` holds now, in offset order per partition (a throwaway consumer group that
 * reads to the high watermarks); none while the topic does not exist yet.
 */
export const readTopic = async (brokers: string, topic: string): Promise<ReadMessage[]> => {
  const kafka = new Kafka({ clientId: 'test-reader', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await offsetsOf(admin, topic);
  const remaining = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  const messages: ReadMessage[] = [];
  const groupId = `reader.${randomBytes(6).toString('hex')}`;
  if (remaining.size > 0) {
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            if (!remaining.has(partition)) return;
            messages.push({
              partition,
              offset: message.offset,
              key: message.key?.toString() ?? null,
              value: message.value?.toString() ?? null,
              headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(Array.isArray(v) ? v[0] : v)])),
            });
            if (BigInt(message.offset) + 1n >= remaining.get(partition)!) remaining.delete(partition);
            if (remaining.size === 0) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
  }
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
  return messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
};
