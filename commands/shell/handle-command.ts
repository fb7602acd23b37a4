import { randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import type { EventCodec } from '../../domain/ports/codec.ts';
import { STORE_ERRORS } from '../../domain/ports/event-store.ts';
import type { EventStore, NewEvent, RecordedEvent } from '../../domain/ports/event-store.ts';
import type { AggregateDecider } from '../../domain/events.ts';
import type { Category } from '../../domain/shared/streams.ts';
import { AppError, hasCode } from '../../domain/shared/errors.ts';
import { createKeyedLock } from './keyed-lock.ts';
import { commandName, shellInstrumentation } from './instrumentation.ts';
import { createStateCache, MAX_KEYS_PER_STREAM } from './state-cache.ts';
import type { CachedStream, IdempotencyRecord, StateCache } from './state-cache.ts';

export interface CommandMetadata {
  readonly tenantId: string;
  readonly actor: string;
  readonly correlationId: string;
  readonly causationId?: string | null;
  readonly traceparent?: string;
}

export interface CommandEnvelope<C> {
  readonly streamId: string;
  readonly command: C;
  readonly metadata: CommandMetadata;
  /** From an Idempotency-Key header or a webhook's own id; `fingerprint` identifies the request body. */
  readonly idempotency?: IdempotencyKey;
  /** May a conflict be retried by deciding again on fresh state? Default true. */
  readonly retryOnConflict?: boolean;
}

export interface IdempotencyKey {
  readonly key: string;
  readonly fingerprint?: string;
  /**
   * Whose key it is (an HTTP caller). Event ids then derive from scope and key, not from the stream,
   * so the key reused on another stream (a new tenant's slug, another tenant's path) meets the
   * first request's ids in the store and is refused; without a scope a key is known per stream.
   */
  readonly scope?: string;
}

export interface CommandResult<S> {
  readonly streamId: string;
  readonly events: readonly NewEvent[];
  readonly state: S;
  readonly nextRevision: number;
  /** Where the stream stands after the command: use it as `minPosition` to read your write. */
  readonly position: bigint | undefined;
  /** A repeat of an earlier command with the same idempotency key: nothing was appended. */
  readonly duplicate: boolean;
}

export interface CommandShellDeps {
  readonly store: EventStore;
  /** Encodes what the deciders decide (validated, encrypted) and decodes what they fold (typed). */
  readonly codec: EventCodec;
  readonly cache?: StateCache;
  readonly newId?: () => string;
  readonly maxAttempts?: number;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const IDEMPOTENCY_NAMESPACE = '6f9d7b0e-3c1a-5b8e-9f4d-2a7c1e5b8d30';
const SCOPED_NAMESPACE = 'b7e3c2a1-4d5f-5a6b-8c9d-0e1f2a3b4c5d';

const keyReused = () => new AppError('conflict', 'idempotency_key_reused', 'this Idempotency-Key was already used for a different request');
const PAGE = 2_000;

export const concurrencyError = (streamId: string, attempts: number) =>
  new AppError('conflict', 'concurrency_conflict', `stream ${streamId} kept changing; gave up after ${attempts} attempts`, {
    streamId,
    attempts,
  });

/** Records a key as most recent, dropping the oldest past the bound. Mutates `keys`. */
const rememberKey = (keys: Map<string, IdempotencyRecord>, key: string, record: IdempotencyRecord) => {
  keys.delete(key);
  keys.set(key, record);
  if (keys.size > MAX_KEYS_PER_STREAM) keys.delete(keys.keys().next().value!);
};

/** The one command-handling shell: read → fold → decide → append(expected revision) → retry a conflict. */
export const createCommandShell = (deps: CommandShellDeps) => {
  const cache = deps.cache ?? createStateCache();
  const newId = deps.newId ?? randomUUID;
  const maxAttempts = deps.maxAttempts ?? 8;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const lock = createKeyedLock();

  const load = async <K extends Category, C, S>(decider: AggregateDecider<K, C, S>, streamId: string): Promise<CachedStream<S>> => {
    let entry: CachedStream<S> = cache.get<S>(streamId) ?? {
      state: decider.initialState(),
      revision: -1,
      lastPosition: undefined,
      keys: new Map(),
      checkedAt: 0,
    };
    for (;;) {
      const stored: RecordedEvent[] = await deps.store.readStream(streamId, { fromRevision: entry.revision + 1, maxCount: PAGE });
      if (stored.length === 0) break;
      // `open`: deciders compare what they are given with what was recorded, secrets included
      const page = await deps.codec.decodeStream(decider.category, stored, 'open');
      let state = entry.state;
      const keys = new Map(entry.keys);
      for (const event of page) {
        state = decider.evolve(state, event);
        const key = event.metadata.idempotencyKey;
        if (typeof key === 'string')
          rememberKey(keys, key, { fingerprint: event.metadata.commandHash, nextRevision: event.revision, position: event.position });
      }
      const last = page[page.length - 1]!;
      entry = { state, keys, revision: last.revision, lastPosition: last.position, checkedAt: entry.checkedAt };
      if (stored.length < PAGE) break;
    }
    entry = { ...entry, checkedAt: Date.now() };
    cache.set(streamId, entry);
    return entry;
  };

  const attempt = async <K extends Category, C, S>(
    decider: AggregateDecider<K, C, S>,
    envelope: CommandEnvelope<C>,
    trustCache: boolean,
  ): Promise<CommandResult<S>> => {
    const { streamId, idempotency } = envelope;
    // A warm cache is decided on directly: if another process wrote meanwhile, the append's
    // expected revision refuses it and the retry reads forward. That saves a read per command.
    const entry = (trustCache ? cache.get<S>(streamId) : undefined) ?? (await load(decider, streamId));
    const base = { streamId, state: entry.state };
    if (idempotency) {
      const seen = entry.keys.get(idempotency.key);
      if (seen) {
        if (seen.fingerprint !== idempotency.fingerprint) throw keyReused();
        return { ...base, events: [], nextRevision: seen.nextRevision, position: seen.position, duplicate: true };
      }
    }
    const decided = decider.decide(envelope.command, entry.state);
    if (decided.length === 0) return { ...base, events: [], nextRevision: entry.revision, position: entry.lastPosition, duplicate: false };

    const traceparent = shellInstrumentation().traceparent() ?? envelope.metadata.traceparent;
    const metadata = {
      causationId: null,
      ...envelope.metadata,
      ...(traceparent ? { traceparent } : {}),
      ...(idempotency ? { idempotencyKey: idempotency.key } : {}),
      // a key without a fingerprint records none (undefined is not JSON)
      ...(idempotency?.fingerprint !== undefined ? { commandHash: idempotency.fingerprint } : {}),
    };
    const events: NewEvent[] = await deps.codec.encode(
      decider.category,
      streamId,
      decided.map((event, index) => ({
        id: idempotency ? uuidv5(`${idempotency.scope ?? streamId}|${idempotency.key}|${index}`, idempotency.scope ? SCOPED_NAMESPACE : IDEMPOTENCY_NAMESPACE) : newId(),
        event,
      })),
      metadata,
    );
    const result = await shellInstrumentation()
      .append(events.length, () => deps.store.append(streamId, events, entry.revision < 0 ? 'no_stream' : entry.revision))
      .catch((error: unknown) => {
        // the ids are the key's: stored elsewhere, the key already served another request
        throw idempotency && hasCode(error, STORE_ERRORS.idempotencyMismatch) ? keyReused() : error;
      });
    if (result.duplicate) {
      cache.delete(streamId); // another process wrote these ids; fold them properly next time
      return { ...base, events: [], nextRevision: result.nextRevision, position: result.position, duplicate: true };
    }
    let state = entry.state;
    for (const event of decided) state = decider.evolve(state, event);
    const keys = idempotency ? new Map(entry.keys) : entry.keys;
    if (idempotency) rememberKey(keys as Map<string, IdempotencyRecord>, idempotency.key, { fingerprint: idempotency.fingerprint, ...result });
    cache.set(streamId, { state, revision: result.nextRevision, lastPosition: result.position, keys, checkedAt: Date.now() });
    return { streamId, state, events, nextRevision: result.nextRevision, position: result.position, duplicate: false };
  };

  return {
    handle<K extends Category, C, S>(decider: AggregateDecider<K, C, S>, envelope: CommandEnvelope<C>): Promise<CommandResult<S>> {
      const run = () => lock(envelope.streamId, async () => {
        for (let attemptNo = 1; ; attemptNo++) {
          try {
            return await attempt(decider, envelope, attemptNo === 1);
          } catch (error) {
            if (!hasCode(error, STORE_ERRORS.conflict)) throw error;
            if (envelope.retryOnConflict === false) throw concurrencyError(envelope.streamId, attemptNo);
            if (attemptNo >= maxAttempts) throw concurrencyError(envelope.streamId, attemptNo);
            await sleep(random() * Math.min(5 * 2 ** attemptNo, 200)); // full jitter, capped
          }
        }
      });
      const outcome = (r: CommandResult<S>) => (r.duplicate ? 'duplicate' : r.events.length === 0 ? 'noop' : 'ok');
      return shellInstrumentation().command(commandName(envelope.command, decider.category), run, outcome);
    },
    /**
     * A stream's folded state without deciding anything: from the cache when it was checked
     * against the store within `maxAgeMs`, otherwise read forward first.
     */
    async state<K extends Category, C, S>(
      decider: AggregateDecider<K, C, S>,
      streamId: string,
      maxAgeMs = 0,
    ): Promise<{ state: S; revision: number }> {
      const cached = cache.get<S>(streamId);
      const entry = cached && Date.now() - cached.checkedAt < maxAgeMs ? cached : await load(decider, streamId);
      return { state: entry.state, revision: entry.revision };
    },
    /**
     * Has the stream recorded a command under this Idempotency-Key (among the keys it remembers)?
     * Read forward first. For commands that call a platform before they append: a retried request
     * must not call it again (see connectTelegramBot).
     */
    async recorded<K extends Category, C, S>(decider: AggregateDecider<K, C, S>, streamId: string, key: string): Promise<boolean> {
      return (await load(decider, streamId)).keys.has(key);
    },
  };
};

export type CommandShell = ReturnType<typeof createCommandShell>;
