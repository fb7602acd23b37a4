import { AppError } from '../shared/errors.ts';

/**
 * The EventStore port. Types only plus its typed errors; implementations live in adapters/.
 * Revisions are per stream and start at 0. Positions are global, bigint, strictly increasing in
 * the order subscribers receive events (they need not be dense).
 */
export type ExpectedRevision = number | 'any' | 'no_stream' | 'stream_exists';

export interface EventMetadata {
  readonly tenantId: string;
  readonly actor: string;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly traceparent?: string;
  readonly idempotencyKey?: string;
  readonly commandHash?: string;
  readonly [key: string]: unknown;
}

export interface NewEvent {
  readonly id: string; // a UUID; deterministic when derived from an idempotency key
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  /**
   * Restores only (`openclaw-service restore`): when the event was first recorded, kept by stores
   * that can set it (the SQL stores); others record the time of the append.
   */
  readonly recordedAt?: Date;
}

export interface RecordedEvent {
  readonly id: string;
  readonly streamId: string;
  readonly revision: number;
  readonly position: bigint;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  readonly recordedAt: Date;
  /**
   * The event's link in its stream's hash chain, hex: sha256(previous event's hash ‖ content hash)
   * (docs/audit.md). Every store sets it on what it reads; absent on events written before chains
   * existed and on copies that travelled without it.
   */
  readonly hash?: string;
}

/**
 * An event as the store keeps it, for reading the whole log fast (audit export, verify, backup): data
 * and metadata are the JSON text the store prints (PostgreSQL: `{"k": v, …}`), never parsed.
 */
export interface StoredEvent {
  readonly id: string;
  readonly streamId: string;
  readonly revision: number;
  /** The position as decimal text. */
  readonly position: string;
  readonly type: string;
  /** JSON text. */
  readonly data: string;
  /** JSON text. */
  readonly metadata: string;
  /** Milliseconds since the epoch. */
  readonly recordedAt: number;
  readonly hash?: string;
}

export interface AppendResult {
  /** Revision of the last event of the stream after this append. */
  readonly nextRevision: number;
  /** Position of the last event this append wrote (or had written, for a repeat). */
  readonly position: bigint;
  /** True when every event id was already stored: nothing was appended. */
  readonly duplicate: boolean;
}

export interface EventFilter {
  readonly tenantId?: string;
  readonly categories?: readonly string[];
  readonly eventTypes?: readonly string[];
}

export interface ReadStreamOptions {
  readonly fromRevision?: number;
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Omit to start from the beginning. */
  readonly after?: bigint;
  readonly filter?: EventFilter;
  readonly maxCount?: number;
}

export interface SubscribeOptions {
  readonly after?: bigint;
  readonly filter?: EventFilter;
  /** Largest batch handed to the handler at once. */
  readonly batchSize?: number;
}

export type SubscriptionHandler = (events: readonly RecordedEvent[]) => Promise<void> | void;

export interface Subscription {
  /** Position of the last event the handler finished with. */
  readonly position: bigint | undefined;
  /** Stops delivery; resolves when the handler is no longer running. */
  close(): Promise<void>;
  /** Settles when the subscription ends: resolves after close(), rejects if the handler throws. */
  readonly done: Promise<void>;
}

export interface EventStore {
  append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /**
   * Optional: what readAll reads, in stored form, in pages of up to 50,000. Stores without it are read
   * through readAll (the audit code turns those events into the same form).
   */
  readAllStored?(options?: ReadAllOptions): Promise<StoredEvent[]>;
  /** Catch-up from `after`, then live, in position order, never skipping a committed event. */
  subscribe(options: SubscribeOptions, handler: SubscriptionHandler): Subscription;
  /** The position of the newest event a subscriber could receive now. */
  headPosition(): Promise<bigint | undefined>;
  /**
   * How many events a subscriber starting after `after` could receive now (from the start when
   * undefined), counting at most `limit` when given: how far a reader lags, without reading the log.
   */
  countAfter(after: bigint | undefined, options?: { readonly limit?: number }): Promise<number>;
  close(): Promise<void>;
}

/** Typed store errors. Branch on `code`. */
export const STORE_ERRORS = {
  conflict: 'wrong_expected_revision',
  invalid: 'invalid_append',
  idempotencyMismatch: 'idempotency_mismatch',
  unavailable: 'store_unavailable',
} as const;

export const wrongExpectedRevision = (streamId: string, expected: ExpectedRevision, actual: number | 'no_stream') =>
  new AppError('conflict', STORE_ERRORS.conflict, `stream ${streamId} is at ${actual}, expected ${expected}`, {
    streamId,
    expected: String(expected),
    actual: String(actual),
  });

export const invalidAppend = (message: string, details?: Record<string, unknown>) =>
  new AppError('validation', STORE_ERRORS.invalid, message, details);

export const storeUnavailable = (message: string) => new AppError('unavailable', STORE_ERRORS.unavailable, message);

export const idempotencyMismatch = (streamId: string) =>
  new AppError(
    'conflict',
    STORE_ERRORS.idempotencyMismatch,
    `some but not all event ids of this append already exist in ${streamId}, or they exist in another stream`,
    { streamId },
  );
