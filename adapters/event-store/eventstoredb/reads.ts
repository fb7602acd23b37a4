import { BACKWARDS, END } from '@eventstore/db-client';
import type { AllStreamResolvedEvent, EventStoreDBClient, ResolvedEvent, StreamingRead } from '@eventstore/db-client';
import type { ReadAllOptions, ReadStreamOptions, RecordedEvent } from '../../../domain/ports/event-store.ts';
import { parseStreamId } from '../../../domain/shared/streams.ts';
import { isMissingStream, withRetries } from './errors.ts';
import { accepts, commitOf, isSystemRecord, storedHashOf, toReadPosition, toRecordedEvent } from './mapping.ts';
import type { EsdbRecord } from './mapping.ts';

const ALL_PAGE = 1_000;
const HEAD_PAGE = 100;

/** Feeds each resolved event to `visit` until it returns false; then cancels the rest of the read. */
const each = async <E extends ResolvedEvent | AllStreamResolvedEvent>(
  read: StreamingRead<E>,
  visit: (event: E) => boolean,
): Promise<number> => {
  let seen = 0;
  for await (const resolved of read) {
    seen++;
    if (!visit(resolved)) {
      await read.cancel().catch(() => undefined);
      break;
    }
  }
  return seen;
};

const isOurStream = (streamId: string): boolean => {
  try {
    parseStreamId(streamId);
    return true;
  } catch {
    return false;
  }
};

/** A stream's events in revision order; a missing (or malformed, or system) stream reads as []. */
export const readStreamEvents = async (
  client: EventStoreDBClient,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<RecordedEvent[]> => {
  const from = Math.max(0, Math.floor(options.fromRevision ?? 0));
  const maxCount = Math.floor(options.maxCount ?? Number.MAX_SAFE_INTEGER);
  if (!isOurStream(streamId) || maxCount <= 0) return [];
  return withRetries('readStream', async () => {
    const events: RecordedEvent[] = [];
    try {
      await each(client.readStream(streamId, { fromRevision: BigInt(from), maxCount }), (resolved) => {
        if (resolved.event) events.push(toRecordedEvent(resolved.event as EsdbRecord));
        return true;
      });
    } catch (error) {
      if (isMissingStream(error)) return [];
      throw error;
    }
    return events;
  });
};

/** The stream's newest event (its revision and chain hash), or undefined for a missing stream. */
export const readStreamHead = async (client: EventStoreDBClient, streamId: string): Promise<{ revision: number; hash: string | undefined } | undefined> => {
  let head: { revision: number; hash: string | undefined } | undefined;
  try {
    await each(client.readStream(streamId, { direction: BACKWARDS, fromRevision: END, maxCount: 1 }), ({ event }) => {
      if (event) head = { revision: Number(event.revision), hash: storedHashOf(event.metadata) };
      return false;
    });
  } catch (error) {
    if (isMissingStream(error)) return undefined;
    throw error;
  }
  return head;
};

/**
 * Visits the events of $all strictly after `after`, in order, until `visit` returns false. A read
 * from a position includes the event at that position: it is skipped (`commit <= after`); a retry
 * resumes after the last event already visited.
 */
const scanForward = async (client: EventStoreDBClient, after: bigint | undefined, visit: (record: EsdbRecord) => boolean): Promise<void> => {
  let from = after;
  for (;;) {
    let progressed = false;
    let stopped = false;
    const seen = await withRetries('readAll', () =>
      each(client.readAll({ fromPosition: toReadPosition(from), maxCount: ALL_PAGE }), ({ event }) => {
        const commit = commitOf(event?.position);
        if (!event || commit === undefined || (from !== undefined && commit <= from)) return true;
        from = commit;
        progressed = true;
        stopped = !visit(event as EsdbRecord);
        return !stopped;
      }),
    );
    if (stopped || seen < ALL_PAGE || !progressed) return;
  }
};

/**
 * Events of $all strictly after `after` that pass the filter. The 6.x client's readAll takes no
 * server-side filter, so this pages through $all and filters in memory (system events skipped).
 */
export const readAllEvents = async (client: EventStoreDBClient, options: ReadAllOptions = {}): Promise<RecordedEvent[]> => {
  const limit = Math.min(Math.max(Math.floor(options.maxCount ?? 1000), 1), 10_000);
  const events: RecordedEvent[] = [];
  await scanForward(client, options.after, (record) => {
    if (accepts(record, options.filter)) events.push(toRecordedEvent(record));
    return events.length < limit;
  });
  return events;
};

/** User events of $all after `after`, counted up to `limit`: ESDB keeps no count, so this reads them. */
export const countEventsAfter = async (client: EventStoreDBClient, after: bigint | undefined, limit?: number): Promise<number> => {
  const most = limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(limit));
  let count = 0;
  if (most === 0) return 0;
  await scanForward(client, after, (record) => {
    if (accepts(record, undefined)) count++;
    return count < most;
  });
  return count;
};

/** Newest user event's position: reads $all backwards past system events. */
export const readHeadPosition = async (client: EventStoreDBClient): Promise<bigint | undefined> => {
  let before: bigint | undefined;
  for (;;) {
    let head: bigint | undefined;
    let progressed = false;
    const seen = await withRetries('headPosition', () =>
      each(
        client.readAll({ direction: BACKWARDS, fromPosition: before === undefined ? END : toReadPosition(before), maxCount: HEAD_PAGE }),
        ({ event }) => {
          const commit = commitOf(event?.position);
          if (!event || commit === undefined || (before !== undefined && commit >= before)) return true;
          before = commit;
          progressed = true;
          if (accepts(event, undefined)) head = commit;
          return head === undefined;
        },
      ),
    );
    if (head !== undefined) return head;
    if (seen < HEAD_PAGE || !progressed) return undefined;
  }
};

/**
 * The stored events of `streamId` whose ids are in `ids` (one copy of each), looking at most
 * `window` events back from the end of the stream (ESDB has no lookup by event id).
 */
export const findStoredIds = async (
  client: EventStoreDBClient,
  streamId: string,
  ids: ReadonlySet<string>,
  window: number,
): Promise<RecordedEvent[]> => {
  const found = new Map<string, RecordedEvent>(); // by id: a stream may hold an id twice (older duplicates)
  try {
    await each(client.readStream(streamId, { direction: BACKWARDS, fromRevision: END, maxCount: window }), ({ event }) => {
      const id = event?.id.toLowerCase();
      if (event && id !== undefined && ids.has(id)) found.set(id, toRecordedEvent(event as EsdbRecord));
      return found.size < ids.size;
    });
  } catch (error) {
    if (isMissingStream(error)) return [];
    throw error;
  }
  return [...found.values()];
};

/** Events with these ids among the newest `window` events of $all (any stream). */
export const findRecentIds = async (
  client: EventStoreDBClient,
  ids: ReadonlySet<string>,
  window: number,
): Promise<RecordedEvent[]> => {
  const found = new Map<string, RecordedEvent>();
  await each(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: window }), ({ event }) => {
    const id = event?.id.toLowerCase();
    if (event && id !== undefined && ids.has(id) && !isSystemRecord(event)) found.set(id, toRecordedEvent(event as EsdbRecord));
    return found.size < ids.size;
  });
  return [...found.values()];
};
