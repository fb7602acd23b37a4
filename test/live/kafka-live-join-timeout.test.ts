import { describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { createKafkaLiveFeed } from '../../adapters/live/kafka.ts';

// Review: a live-feed listener whose consumer never joins its group (a broker that accepts the
// connection but never completes the join) must not leave that consumer connected when listen() fails.
describe('Kafka live feed: listen() that times out joining', () => {
  it('disconnects the consumer it made', async () => {
    let connected = 0;
    const consumer = {
      events: { GROUP_JOIN: 'consumer.group_join' },
      on: () => () => undefined, // GROUP_JOIN never comes
      connect: async () => void connected++,
      disconnect: async () => void connected--,
      subscribe: async () => undefined,
      run: async () => undefined,
      seek: () => undefined,
    };
    const admin = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      listTopics: async () => ['openclaw.live'],
      createTopics: async () => true,
      fetchTopicOffsets: async () => [{ partition: 0, offset: '0', high: '0', low: '0' }],
      deleteGroups: async () => [],
    };
    const kafka = { admin: () => admin, consumer: () => consumer } as unknown as Kafka;
    const feed = createKafkaLiveFeed({ kafka, topic: 'openclaw.live', partitions: 1, keys: null });
    await expect(feed.listen(() => undefined)).rejects.toThrow(/did not join in time/);
    await feed.close();
    expect(connected).toBe(0); // was 1: the consumer stays connected (and its group stays) for the life of the process
  }, 45_000);
});
