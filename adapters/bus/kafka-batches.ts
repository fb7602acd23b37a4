import type { Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import type { BusHandler, ConsumeOptions } from '../../domain/ports/bus.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { KafkaLog, KafkaSettings } from '../kafka/client.ts';
import { deadLetterMessage } from '../kafka/dead-letters.ts';
import { fromMessage, matchesFilter } from '../kafka/wire.ts';
import { deliver, DeliveryStopped, errorText } from './delivery.ts';
import type { Delivery, RetryPolicy } from './delivery.ts';

export interface BatchContext {
  readonly consumer: string;
  readonly client: Consumer;
  readonly handler: BusHandler;
  readonly consumeOptions: ConsumeOptions;
  readonly retry: RetryPolicy;
  readonly stopping: Promise<void>;
  isClosing(): boolean;
  deadLetterProducer(): Promise<Producer>;
  readonly settings: KafkaSettings;
  readonly log?: KafkaLog;
}

/**
 * One partition's fetched messages in chunks of `batchSize`: filtered by header, decoded, handed to
 * the handler, the offset committed after each chunk. Closing or losing the partition in a
 * rebalance stops between chunks (or between retries) without committing the unfinished chunk.
 */
export const handleBatches = (ctx: BatchContext) => async (payload: EachBatchPayload) => {
  const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
  const size = ctx.consumeOptions.batchSize ?? 200;
  const stopped = () => ctx.isClosing() || !isRunning() || isStale();
  const toDeadLetters = async (message: KafkaMessage, error: unknown, attempts: number) => {
    ctx.log?.warn(
      { consumer: ctx.consumer, partition: batch.partition, offset: message.offset, attempts, error: errorText(error) },
      'bus consumer gave up on a message: dead-lettered',
    );
    const producer = await ctx.deadLetterProducer();
    await producer.send({
      topic: ctx.settings.deadLetterTopic,
      acks: -1,
      messages: [deadLetterMessage(message, { consumer: ctx.consumer, topic: batch.topic, partition: batch.partition, error, attempts })],
    });
  };
  const commit = async (offset: string) => {
    resolveOffset(offset);
    await ctx.client.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(offset) + 1n).toString() }]);
  };
  for (let from = 0; from < batch.messages.length; from += size) {
    if (stopped()) return;
    const chunk = batch.messages.slice(from, from + size);
    const messageOf = new Map<RecordedEvent, KafkaMessage>();
    for (const message of chunk) {
      if (!matchesFilter(message, ctx.consumeOptions.filter)) continue;
      try {
        messageOf.set(fromMessage(message), message);
      } catch (error) {
        await toDeadLetters(message, error, 0);
      }
    }
    let lastDone: string | undefined;
    const delivery: Delivery = {
      policy: ctx.retry,
      stopping: ctx.stopping,
      isStopping: stopped,
      keepAlive: heartbeat,
      deadLetter: (event, error, attempts) => toDeadLetters(messageOf.get(event)!, error, attempts),
      onDone: async (last) => void (lastDone = messageOf.get(last)!.offset),
    };
    try {
      await deliver([...messageOf.keys()], ctx.handler, delivery);
    } catch (error) {
      if (!(error instanceof DeliveryStopped)) throw error;
      // what was finished stays finished; losing the partition meanwhile makes this commit fail, which is harmless
      if (lastDone !== undefined) await commit(lastDone).catch(() => undefined);
      return;
    }
    await commit(chunk[chunk.length - 1]!.offset);
    await heartbeat();
  }
};
