import type { RetryPolicy } from '../adapters/bus/delivery.ts';
import { createKafka } from '../adapters/kafka/client.ts';
import type { KafkaLog, KafkaSettings } from '../adapters/kafka/client.ts';
import { ConfigError } from './config.ts';
import type { Config } from './config.ts';

/** The Kafka settings of the configuration; a ConfigError when KAFKA_BROKERS is missing. */
export const kafkaSettingsOf = (config: Config, needs = 'this role'): KafkaSettings => {
  if (!config.KAFKA_BROKERS) throw new ConfigError(`${needs} needs KAFKA_BROKERS (host:port[,host:port…])`);
  return {
    brokers: config.KAFKA_BROKERS.split(','),
    clientId: config.KAFKA_CLIENT_ID,
    topic: config.KAFKA_TOPIC,
    deadLetterTopic: config.KAFKA_DEAD_LETTER_TOPIC,
    partitions: config.KAFKA_PARTITIONS,
  };
};

export const kafkaOf = (config: Config, log: KafkaLog | undefined, needs?: string) => {
  const settings = kafkaSettingsOf(config, needs);
  return { settings, kafka: createKafka(settings, log) };
};

export const retryPolicyOf = (config: Config): RetryPolicy => ({
  maxAttempts: config.BUS_MAX_ATTEMPTS,
  backoffMs: config.BUS_RETRY_MS,
  maxBackoffMs: config.BUS_RETRY_MS * 30,
});
