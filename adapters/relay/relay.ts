import { Partitioners } from 'kafkajs';
import type { Kafka, Producer } from 'kafkajs';
import type { CheckpointStore } from '../../domain/ports/checkpoints.ts';
import type { EventStore, RecordedEvent, Subscription } from '../../domain/ports/event-store.ts';
import { ensureTopics } from '../kafka/client.ts';
import type { KafkaLog, KafkaSettings } from '../kafka/client.ts';
import { toMessage } from '../kafka/wire.ts';
import { observeRelay } from '../telemetry/relay.ts';

export interface RelayOptions {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  readonly kafka: Kafka;
  readonly settings: Pick<KafkaSettings, 'topic' | 'deadLetterTopic' | 'partitions'>;
  /** Events read from the store and sent in one produce call. */
  readonly batchSize?: number;
  readonly log?: KafkaLog;
  /** After each batch the broker acknowledged and the checkpoint saved. */
  readonly onRelayed?: (events: readonly RecordedEvent[]) => void;
}

export interface RelayLag {
  /** The position of the last event the broker acknowledged; null before the first. */
  readonly checkpoint: string | null;
  readonly head: string | null;
  /** Events in the store not yet acknowledged by the broker (counted up to 10,000). */
  readonly events: number;
  /** Age of the oldest of them; 0 when caught up. */
  readonly seconds: number;
}

const MAX_BACKOFF_MS = 5_000;
const LAG_COUNT_LIMIT = 10_000;

/** The relay's checkpoint name: one per topic, so relaying to a second topic starts from the beginning. */
export const relayCheckpoint = (topic: string) => `relay:${topic}`;

/** How far `topic` is behind the store, from the relay's checkpoint: works whether or not a relay runs. */
export const relayLag = async (on: { store: EventStore; checkpoints: CheckpointStore; topic: string }): Promise<RelayLag> => {
  const checkpoint = await on.checkpoints.load(relayCheckpoint(on.topic));
  const [head, events, [oldest]] = await Promise.all([
    on.store.headPosition(),
    on.store.countAfter(checkpoint, { limit: LAG_COUNT_LIMIT }),
    on.store.readAll({ ...(checkpoint !== undefined ? { after: checkpoint } : {}), maxCount: 1 }),
  ]);
  return {
    checkpoint: checkpoint === undefined ? null : String(checkpoint),
    head: head === undefined ? null : String(head),
    events,
    seconds: oldest ? Math.max(0, (Date.now() - oldest.recordedAt.getTime()) / 1000) : 0,
  };
};

/**
 * The relay: reads the log from its checkpoint through the EventStore port and produces every
 * event to Kafka (wire format in ../kafka/wire.ts), then saves the checkpoint, so the checkpoint
 * never passes an event the broker has not acknowledged (acks=all). Killed anywhere, it resends
 * at most the batch in flight; consumers deduplicate by event id. Any failure (broker down,
 * database down) drops the producer and starts again from the checkpoint, with backoff.
 */
export const createRelay = (options: RelayOptions) => {
  const { store, checkpoints, kafka, settings } = options;
  const name = relayCheckpoint(settings.topic);
  const batchSize = options.batchSize ?? 1_000;
  let running = false;
  let subscription: Subscription | undefined;
  let producer: Producer | undefined;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const telemetry = observeRelay(settings.topic, async () => {
    const lag = await relayLag({ store, checkpoints, topic: settings.topic });
    return { events: lag.events, seconds: lag.seconds, position: lag.checkpoint };
  });

  const session = async () => {
    await ensureTopics(kafka, settings);
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const after = await checkpoints.load(name);
    if (!running) return;
    // One batch in flight while the next page is read: the store read overlaps the broker's
    // round trip. Batches still go out one at a time, in order, each checkpoint after its ack.
    const sending = producer;
    let inFlight: Promise<void> = Promise.resolve();
    const current = store.subscribe({ ...(after !== undefined ? { after } : {}), batchSize }, async (events) => {
      await inFlight; // the previous batch's failure ends this session here
      const last = events[events.length - 1]!.position;
      inFlight = telemetry.send(events, () => sending.send({ topic: settings.topic, acks: -1, messages: events.map(toMessage) })).then(async () => {
        await checkpoints.save(name, last);
        telemetry.relayed(events.length);
        options.onRelayed?.(events);
      });
      // a failure while the log is idle (no next batch to notice it) ends the session too
      inFlight.catch(() => void current.close());
    });
    subscription = current;
    await current.done;
    await inFlight;
  };

  const run = async () => {
    let backoff = 100;
    while (running) {
      const started = Date.now();
      try {
        await session();
      } catch (error) {
        telemetry.failed(error);
        if (running) options.log?.warn({ err: error, topic: settings.topic }, 'relay interrupted; resuming from its checkpoint');
      }
      await producer?.disconnect().catch(() => undefined);
      producer = undefined;
      if (!running) return;
      if (Date.now() - started > 30_000) backoff = 100;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, backoff);
      });
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  };

  return {
    name,
    start() {
      if (running) return;
      running = true;
      telemetry.start();
      loop = run();
    },
    /**
     * Stops reading and waits for the batch in flight; a send or connect still waiting on a broker
     * that is down is abandoned after `graceMs` (its events are resent on the next start).
     */
    async stop(graceMs = 5_000) {
      running = false;
      telemetry.stop();
      wake?.();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([(async () => {
        await subscription?.close();
        await loop;
      })(), grace]);
      clearTimeout(timer);
      await producer?.disconnect().catch(() => undefined);
    },
    /** How far the topic is behind the store. */
    lag: () => relayLag({ store, checkpoints, topic: settings.topic }),
  };
};

export type Relay = ReturnType<typeof createRelay>;
