/**
 * Where a reader of the event log (the relay, the in-process bus) keeps the position it reached,
 * in the database, beside what it writes. Readers of a Kafka topic keep offsets there instead.
 */
export interface CheckpointStore {
  load(reader: string): Promise<bigint | undefined>;
  /** Moves the checkpoint forward; never backwards. */
  save(reader: string, position: bigint): Promise<void>;
}
