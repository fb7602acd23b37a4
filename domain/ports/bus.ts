import type { EventFilter, RecordedEvent } from './event-store.ts';

/**
 * The Bus port: named consumers of the events appended to the log. Delivery is at-least-once and in
 * order per stream; nothing here assumes one global position, because a Kafka topic has an offset
 * per partition. A handler that keeps failing is retried with backoff, then event by event, and an
 * event that still fails goes to the dead letters with its error: it never blocks later events.
 * Handlers deduplicate their effects by event id. The in-process bus and the Kafka bus implement it.
 */
export interface ConsumeOptions {
  readonly filter?: EventFilter;
  readonly batchSize?: number;
  /**
   * `group` (default): every instance that consumes under one name shares the work (each event
   * reaches one of them) and the progress, which survives restarts; a new name starts from the
   * oldest event the bus still holds.
   * `broadcast`: this instance alone gets every event published after `consume` resolved, keeps no
   * progress and shares nothing (a WebSocket pusher behind a load balancer needs every event).
   */
  readonly mode?: 'group' | 'broadcast';
  /**
   * How many batches may be in flight at once, i.e. handed over and not yet acknowledged (default 1).
   * A batch still waits for every earlier one that holds an event of the same stream, and progress is
   * kept in order (a batch is acknowledged once it and all before it are done), so per-stream order and
   * at-least-once hold; across streams, a slow batch no longer holds the next ones back, up to this
   * many. The Kafka bus gets the same from its partitions and ignores this.
   */
  readonly batchesAtOnce?: number;
}

export type BusHandler = (events: readonly RecordedEvent[]) => Promise<void> | void;

export interface BusSubscription {
  /** Stops delivery and keeps the progress of what the handler finished; resolves once the handler no longer runs. */
  close(): Promise<void>;
  /** Settles when the consumer ends: resolves after close(), rejects if it cannot go on (not for handler errors). */
  readonly done: Promise<void>;
}

/** How far a consumer is behind, per partition (the in-process bus has one, `log`). Offsets are decimal strings. */
export interface PartitionLag {
  readonly partition: string;
  /** Where the consumer will read next (Kafka: committed offset; in-process: checkpoint position); null before its first commit. */
  readonly committed: string | null;
  /** The end of the partition (Kafka: high watermark; in-process: head position). */
  readonly end: string;
  /** Events not yet handled. */
  readonly lag: number;
}

export interface ConsumerLag {
  readonly consumer: string;
  readonly partitions: readonly PartitionLag[];
  readonly total: number;
}

export interface Bus {
  /** Resolves once the consumer is positioned: for `broadcast`, every event published from then on reaches it. */
  consume(consumer: string, options: ConsumeOptions, handler: BusHandler): Promise<BusSubscription>;
  /** A `group` consumer's lag, whether or not one of its instances runs now. */
  lag(consumer: string): Promise<ConsumerLag>;
  close(): Promise<void>;
}
