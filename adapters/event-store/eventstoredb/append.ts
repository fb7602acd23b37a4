import type { EventData, EventStoreDBClient, JSONType } from '@eventstore/db-client';
import { idempotencyMismatch } from '../../../domain/ports/event-store.ts';
import type { AppendResult, ExpectedRevision, NewEvent } from '../../../domain/ports/event-store.ts';
import { encodeAppend } from '../validate.ts';
import type { EncodedEvent } from '../validate.ts';
import { isWrongExpectedVersion, toConflict, withRetries } from './errors.ts';
import { commitOf, toEsdbExpectedRevision } from './mapping.ts';
import { findStoredIds } from './reads.ts';

export interface AppendContext {
  readonly client: EventStoreDBClient;
  /** How far back (events) to look for the ids of an append that carries an idempotency key. */
  readonly idempotencyWindow: number;
  readonly headPosition: () => Promise<bigint | undefined>;
}

/** Events without an idempotency key have random ids; a repeat of those can only be a recent re-send. */
const UNKEYED_WINDOW = 200;

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
 * throws idempotency_mismatch if only some are. ESDB has no lookup by event id, so this reads the
 * newest `window` events of the stream (ids stored in another stream are not detected).
 */
const earlierAppend = async (
  context: AppendContext,
  streamId: string,
  ids: ReadonlySet<string>,
  window: number,
): Promise<AppendResult | undefined> => {
  const found = await findStoredIds(context.client, streamId, ids, window);
  if (found.length === 0) return undefined;
  if (found.length < ids.size) throw idempotencyMismatch(streamId);
  const nextRevision = Math.max(...found.map((event) => event.revision));
  let position = found.reduce((max, event) => (event.position > max ? event.position : max), -1n);
  // servers before 22.6 send no position with stream reads: the head is at or after the original
  if (found.some((event) => event.position < 0n)) position = (await context.headPosition()) ?? position;
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
  const window = keyed ? context.idempotencyWindow : Math.min(UNKEYED_WINDOW, context.idempotencyWindow);
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
