/**
 * Folded stream state kept between commands, so a command's cost does not grow with its
 * stream's length: a command reads only the events after the cached revision. Correctness does
 * not depend on the cache — a stale entry just reads forward, and the append's expected
 * revision still catches a concurrent writer.
 */
export interface IdempotencyRecord {
  readonly fingerprint: string | undefined;
  readonly nextRevision: number;
  readonly position: bigint;
}

export interface CachedStream<S> {
  readonly state: S;
  readonly revision: number; // -1: no stream
  readonly lastPosition: bigint | undefined;
  /** Idempotency keys seen on this stream, newest last; bounded. */
  readonly keys: ReadonlyMap<string, IdempotencyRecord>;
  /** When this entry was last known to be the head of the stream (ms since epoch). */
  readonly checkedAt: number;
}

export interface StateCache {
  get<S>(streamId: string): CachedStream<S> | undefined;
  set<S>(streamId: string, entry: CachedStream<S>): void;
  delete(streamId: string): void;
}

export const MAX_KEYS_PER_STREAM = 1_000;

/** An LRU by insertion order: Map keeps insertion order, so re-inserting marks an entry as recent. */
export const createStateCache = (maxStreams = 10_000): StateCache => {
  const entries = new Map<string, CachedStream<unknown>>();
  return {
    get<S>(streamId: string) {
      const entry = entries.get(streamId);
      if (!entry) return undefined;
      entries.delete(streamId);
      entries.set(streamId, entry);
      return entry as CachedStream<S>;
    },
    set(streamId, entry) {
      entries.delete(streamId);
      entries.set(streamId, entry);
      if (entries.size > maxStreams) entries.delete(entries.keys().next().value!);
    },
    delete: (streamId) => void entries.delete(streamId),
  };
};

/** A cache that remembers nothing: every command folds its stream from the start. */
export const noCache: StateCache = { get: () => undefined, set: () => undefined, delete: () => undefined };
