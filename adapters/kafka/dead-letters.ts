import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { errorText } from '../bus/delivery.ts';
import { header } from './wire.ts';

/** Headers a dead letter adds to the original message's (docs/kafka.md). */
export const DEAD_LETTER_HEADERS = {
  consumer: 'dead-letter-consumer',
  error: 'dead-letter-error',
  attempts: 'dead-letter-attempts',
  topic: 'dead-letter-topic',
  partition: 'dead-letter-partition',
  offset: 'dead-letter-offset',
  failedAt: 'dead-letter-failed-at',
} as const;

/**
 * The message a consumer gave up on, as it was (key, value, headers) plus who gave up, why, after
 * how many attempts (0: it could not even be decoded) and where it came from.
 */
export const deadLetterMessage = (
  message: KafkaMessage,
  why: { consumer: string; topic: string; partition: number; error: unknown; attempts: number },
): Message => {
  const headers: IHeaders = { ...message.headers };
  Object.assign(headers, {
    [DEAD_LETTER_HEADERS.consumer]: why.consumer,
    [DEAD_LETTER_HEADERS.error]: errorText(why.error),
    [DEAD_LETTER_HEADERS.attempts]: String(why.attempts),
    [DEAD_LETTER_HEADERS.topic]: why.topic,
    [DEAD_LETTER_HEADERS.partition]: String(why.partition),
    [DEAD_LETTER_HEADERS.offset]: message.offset,
    [DEAD_LETTER_HEADERS.failedAt]: new Date().toISOString(),
  });
  return { key: message.key, value: message.value, headers };
};

export interface KafkaDeadLetter {
  readonly consumer: string;
  readonly error: string;
  readonly attempts: number;
  readonly eventId: string | undefined;
  readonly from: { topic: string; partition: number; offset: string };
  readonly value: string | null;
}

export const readDeadLetter = (message: { headers?: IHeaders | undefined; value: Buffer | string | null }): KafkaDeadLetter => ({
  consumer: header(message.headers, DEAD_LETTER_HEADERS.consumer) ?? '',
  error: header(message.headers, DEAD_LETTER_HEADERS.error) ?? '',
  attempts: Number(header(message.headers, DEAD_LETTER_HEADERS.attempts) ?? 0),
  eventId: header(message.headers, 'event-id'),
  from: {
    topic: header(message.headers, DEAD_LETTER_HEADERS.topic) ?? '',
    partition: Number(header(message.headers, DEAD_LETTER_HEADERS.partition) ?? -1),
    offset: header(message.headers, DEAD_LETTER_HEADERS.offset) ?? '',
  },
  value: message.value ? message.value.toString() : null,
});
