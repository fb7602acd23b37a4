import type { EventFilter, RecordedEvent, Subscription } from './event-store.ts';

/**
 * The Bus port: named durable consumers over the event log. Delivery is at-least-once, in order
 * per stream; a consumer resumes after the last batch its handler finished. Handlers deduplicate
 * side effects by event id. The in-process bus and the Kafka bus both implement it.
 */
export interface ConsumeOptions {
  readonly filter?: EventFilter;
  readonly batchSize?: number;
}

export type BusHandler = (events: readonly RecordedEvent[]) => Promise<void> | void;

export interface Bus {
  consume(consumer: string, options: ConsumeOptions, handler: BusHandler): Promise<Subscription>;
  close(): Promise<void>;
}

/** Where a named consumer's progress is kept (in the database, beside what it writes). */
export interface CheckpointStore {
  load(consumer: string): Promise<bigint | undefined>;
  /** Moves the checkpoint forward; never backwards. */
  save(consumer: string, position: bigint): Promise<void>;
}
