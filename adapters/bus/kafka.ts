import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import type { Kafka, Producer } from 'kafkajs';
import type { Bus, BusHandler, BusSubscription, ConsumeOptions } from '../../domain/ports/bus.ts';
import { ensureTopics, groupLag, topicEnds } from '../kafka/client.ts';
import type { KafkaLog, KafkaSettings } from '../kafka/client.ts';
import { DEFAULT_RETRY } from './delivery.ts';
import type { RetryPolicy } from './delivery.ts';
import { handleBatches } from './kafka-batches.ts';

export interface KafkaBusOptions {
  readonly kafka: Kafka;
  readonly settings: KafkaSettings;
  readonly retry?: RetryPolicy;
  readonly log?: KafkaLog;
  /** How long a consumer may be silent before the group gives its partitions to others (kill -9, a hung process). */
  readonly sessionTimeoutMs?: number;
}

const CONSUMER_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const JOIN_TIMEOUT_MS = 60_000;

/** A consumer name's Kafka group: the topic is part of it, so two deployments sharing a cluster with their own topics never share a group. */
export const groupIdOf = (topic: string, consumer: string) => `${topic}.${consumer}`;

/**
 * The Bus over the event topic the relay fills. A `group` consumer is a Kafka consumer group: its
 * instances split the partitions, and each commits the offset after every chunk its handler
 * finished (never before), so a crash, close or rebalance redelivers at most that chunk. A poison
 * event is retried, then produced to the dead-letter topic with its error, and the partition
 * moves on. A `broadcast` consumer is a group of its own that starts at the end of every partition.
 */
export const createKafkaBus = (options: KafkaBusOptions): Bus => {
  const { kafka, settings } = options;
  const retry = options.retry ?? DEFAULT_RETRY;
  const active = new Set<BusSubscription>();
  let topics: Promise<void> | undefined;
  let deadLetters: Promise<Producer> | undefined;

  const ready = () =>
    (topics ??= ensureTopics(kafka, settings).catch((error: unknown) => {
      topics = undefined;
      throw error;
    }));
  const deadLetterProducer = () =>
    (deadLetters ??= (async () => {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      return producer;
    })().catch((error: unknown) => {
      deadLetters = undefined;
      throw error;
    }));
  const withAdmin = async <T>(work: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect();
    }
  };

  const consume = async (consumer: string, consumeOptions: ConsumeOptions, handler: BusHandler): Promise<BusSubscription> => {
    if (!CONSUMER_NAME.test(consumer)) throw new Error(`invalid consumer name: ${consumer}`);
    await ready();
    const broadcast = consumeOptions.mode === 'broadcast';
    const groupId = broadcast ? `${groupIdOf(settings.topic, consumer)}.broadcast.${randomUUID()}` : groupIdOf(settings.topic, consumer);
    // a broadcast group of its own starts where every partition ends now: nothing published later is missed
    const ends = broadcast ? await withAdmin((admin) => topicEnds(admin, settings.topic)) : [];
    const client = kafka.consumer({ groupId, sessionTimeout: options.sessionTimeoutMs ?? 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500 });
    let closing = false;
    let signalClose!: () => void;
    const stopping = new Promise<void>((resolve) => (signalClose = resolve));
    let fail!: (error: unknown) => void;
    const crashed = new Promise<never>((_, reject) => (fail = reject));
    crashed.catch(() => undefined);
    client.on(client.events.CRASH, ({ payload }) => {
      if (!payload.restart && !closing) fail(payload.error);
    });
    const joined = new Promise<void>((resolve) => client.on(client.events.GROUP_JOIN, () => resolve()));
    const eachBatch = handleBatches({ consumer, client, handler, consumeOptions, retry, stopping, isClosing: () => closing, deadLetterProducer, settings, ...(options.log ? { log: options.log } : {}) });
    try {
      await client.connect();
      await client.subscribe({ topics: [settings.topic], fromBeginning: !broadcast });
      await client.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });
      // applied before the next fetch; a batch fetched before it is dropped as stale (kafkajs)
      for (const end of ends) client.seek({ topic: settings.topic, partition: end.partition, offset: end.high });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        joined,
        crashed,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`consumer ${consumer} did not join its group in time`)), JOIN_TIMEOUT_MS))),
      ]).finally(() => clearTimeout(timer));
    } catch (error) {
      await client.disconnect().catch(() => undefined);
      throw error;
    }
    let closed: Promise<void> | undefined;
    const close = () =>
      (closed ??= (async () => {
        closing = true;
        signalClose();
        await client.disconnect();
        if (broadcast) await withAdmin((admin) => admin.deleteGroups([groupId])).catch(() => undefined);
      })());
    const subscription: BusSubscription = { close, done: Promise.race([stopping.then(() => closed), crashed]) };
    active.add(subscription);
    void subscription.done.catch(() => undefined).finally(() => active.delete(subscription));
    return subscription;
  };

  return {
    consume,
    async lag(consumer) {
      const read = () =>
        withAdmin(async (admin) => {
          if (!(await admin.listTopics()).includes(settings.topic))
            throw new Error(`topic ${settings.topic} does not exist yet (the relay or the first consumer creates it)`);
          return groupLag(admin, groupIdOf(settings.topic, consumer), settings.topic);
        });
      // a client's first look at a topic can find its leaders not known yet: a fresh admin asks again
      const partitions = await read().catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 250));
        return read();
      });
      return { consumer, partitions, total: partitions.reduce((sum, p) => sum + p.lag, 0) };
    },
    async close() {
      await Promise.all([...active].map((s) => s.close()));
      const producer = await deadLetters?.catch(() => undefined);
      await producer?.disconnect();
    },
  };
};
