import { randomBytes } from 'node:crypto';

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
