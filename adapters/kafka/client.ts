import { Kafka, logLevel } from 'kafkajs';
import type { Admin, LogEntry } from 'kafkajs';
import type { PartitionLag } from '../../domain/ports/bus.ts';

/** Where the events go and under which names (KAFKA_* in runtime/config.ts). */
export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** The topic every event is relayed to. */
  readonly topic: string;
  /** Where consumers put events they gave up on. */
  readonly deadLetterTopic: string;
  /** Partitions of both topics when they are created (an existing topic keeps its own). */
  readonly partitions: number;
}

/** The part of a pino logger the Kafka adapters use. */
export interface KafkaLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const LEVELS: Record<number, 'error' | 'warn' | undefined> = { [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn' };

/**
 * A kafkajs client whose warnings and errors go to our log. Connection attempts are short and
 * retries few: the relay and the bus have their own loops with backoff around every call, so a
 * broker that is down makes a call fail in seconds instead of hanging for minutes.
 */
export const createKafka = (settings: Pick<KafkaSettings, 'brokers' | 'clientId'>, log?: KafkaLog): Kafka =>
  new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 },
    logLevel: log ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      const level = LEVELS[entry.level];
      if (!level || !log) return;
      const { message, timestamp: _, ...fields } = entry.log;
      log[level]({ kafka: entry.namespace, ...fields }, message);
    },
  });

/** Creates the event topic and the dead-letter topic if they do not exist (auto-creation is off, and fails a first consume under KRaft). */
export const ensureTopics = async (kafka: Kafka, settings: Pick<KafkaSettings, 'topic' | 'deadLetterTopic' | 'partitions'>) => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [settings.topic, settings.deadLetterTopic].filter((t) => !existing.has(t));
    if (missing.length > 0)
      await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions: settings.partitions })) });
  } finally {
    await admin.disconnect();
  }
};

const ENDS_WAIT_MS = 30_000;

/**
 * The offsets of `topic`'s partitions. Just after the topic was created (here or by another process),
 * a partition's leader may still be moving ("not the leader for that topic-partition"): such retriable
 * answers are tried again for up to 30 s, beyond kafkajs's own few retries.
 */
export const topicEnds = async (admin: Admin, topic: string): Promise<Awaited<ReturnType<Admin['fetchTopicOffsets']>>> => {
  const deadline = Date.now() + ENDS_WAIT_MS;
  for (;;) {
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (error) {
      const retriable = (error as { retriable?: unknown }).retriable === true || (error as { name?: unknown }).name === 'KafkaJSNumberOfRetriesExceeded';
      if (!retriable || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
};

/** Per partition of `topic`: where the group will read next, the end, and the difference. */
export const groupLag = async (admin: Admin, groupId: string, topic: string): Promise<PartitionLag[]> => {
  const [ends, groups] = await Promise.all([topicEnds(admin, topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const committed = new Map((groups[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  return ends
    .sort((a, b) => a.partition - b.partition)
    .map((end) => {
      const at = committed.get(end.partition) ?? -1n;
      const from = at >= 0n ? at : BigInt(end.low);
      return {
        partition: String(end.partition),
        committed: at >= 0n ? String(at) : null,
        end: end.high,
        lag: Number(BigInt(end.high) - from),
      };
    });
};
