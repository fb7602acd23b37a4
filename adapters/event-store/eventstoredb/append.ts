import type { EventData, EventStoreDBClient, JSONType } from '@eventstore/db-client';
import { idempotencyMismatch } from '../../../domain/ports/event-store.ts';
import type { AppendResult, ExpectedRevision, NewEvent } from '../../../domain/ports/event-store.ts';
import { encodeAppend } from '../validate.ts';
import type { EncodedEvent } from '../validate.ts';
import { isWrongExpectedVersion, toConflict, withRetries } from './errors.ts';
import { commitOf, toEsdbExpectedRevision } from './mapping.ts';
import { findRecentIds, findStoredIds } from './reads.ts';

export interface AppendContext {
  readonly client: EventStoreDBClient;
  /** How many of the stream's newest events to search for the ids of an append with an idempotency key. */
  readonly streamWindow: number;
  /** How many of $all's newest events to search for the ids in other streams. */
  readonly allWindow: number;
  readonly headPosition: () => Promise<bigint | undefined>;
}

/** Events without an idempotency key have random ids; a repeat of those can only be a recent re-send. */
const UNKEYED_STREAM_WINDOW = 200;

const toEventData = (event: EncodedEvent): EventData => ({
  id: event.id,
  contentType: 'application/json',
  type: event.type,
  // the client JSON-stringifies data and metadata itself; give it exactly what encodeAppend checked
  data: JSON.parse(event.data) as JSONType,
  metadata: JSON.parse(event.metadata) as JSONType,
});

/**
 * The result of an earlier append of these ids, if they are all stored in this stream already;
 * throws idempotency_mismatch if only some are, or if any is stored in another stream. ESDB has no
 * lookup by event id, so this searches the stream's newest `streamWindow` events and $all's newest
 * `allWindow` events: a repeat older than both windows is not recognised.
 */
const earlierAppend = async (
  context: AppendContext,
  streamId: string,
  ids: ReadonlySet<string>,
  streamWindow: number,
): Promise<AppendResult | undefined> => {
  const found = new Map((await findStoredIds(context.client, streamId, ids, streamWindow)).map((e) => [e.id, e]));
  if (found.size < ids.size)
    for (const event of await findRecentIds(context.client, ids, context.allWindow)) if (!found.has(event.id)) found.set(event.id, event);
  if (found.size === 0) return undefined;
  const events = [...found.values()];
  if (found.size < ids.size || events.some((event) => event.streamId !== streamId)) throw idempotencyMismatch(streamId);
  const nextRevision = Math.max(...events.map((event) => event.revision));
  let position = events.reduce((max, event) => (event.position > max ? event.position : max), -1n);
  // servers before 22.6 send no position with stream reads: the head is at or after the original
  if (events.some((event) => event.position < 0n)) position = (await context.headPosition()) ?? position;
  return { nextRevision, position, duplicate: true };
};

/**
 * Appends with optimistic concurrency. Event ids are the caller's, so a retry of the same append is
 * deduplicated: first by looking for the ids (a repeat returns the first result with
 * `duplicate: true`), then by the server itself when a retry with the same expected revision races.
 */
export const appendEvents = async (
  context: AppendContext,
  streamId: string,
  events: readonly NewEvent[],
  expected: ExpectedRevision,
): Promise<AppendResult> => {
  const checked = encodeAppend(streamId, events, expected);
  const ids = new Set(checked.events.map((event) => event.id));
  const keyed = events.some((event) => event.metadata?.idempotencyKey !== undefined);
  const window = keyed ? context.streamWindow : Math.min(UNKEYED_STREAM_WINDOW, context.streamWindow);
  const data = checked.events.map(toEventData);
  const expectedRevision = toEsdbExpectedRevision(checked.expected);

  // a transient failure is retried whole: the look-up finds the events if the lost attempt stored them
  return withRetries('append', async () => {
    const earlier = await earlierAppend(context, streamId, ids, window);
    if (earlier) return earlier;
    try {
      const result = await context.client.appendToStream(streamId, data, { expectedRevision });
      const position = commitOf(result.position) ?? (await context.headPosition()) ?? -1n;
      return { nextRevision: Number(result.nextExpectedRevision), position, duplicate: false };
    } catch (error) {
      if (!isWrongExpectedVersion(error)) throw error;
      // the same ids may have landed meanwhile (a concurrent retry): that is a repeat, not a conflict
      const raced = await earlierAppend(context, streamId, ids, window);
      if (raced) return raced;
      throw toConflict(streamId, checked.expected, error);
    }
  });
};
