import type { EventData, EventStoreDBClient } from '@eventstore/db-client';
import { idempotencyMismatch, wrongExpectedRevision } from '../../../domain/ports/event-store.ts';
import type { AppendResult, ExpectedRevision, NewEvent } from '../../../domain/ports/event-store.ts';
import { encodeAppend } from '../validate.ts';
import { GENESIS_HEX } from '../chain.ts';
import { isWrongExpectedVersion, toConflict, withRetries } from './errors.ts';
import { acceptsHead, chainedEvents, commitOf, headExpectedRevision } from './mapping.ts';
import { findRecentIds, findStoredIds, readStreamHead } from './reads.ts';

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
/** How often an append with `any` re-links onto a head that moved under it before giving up. */
const MAX_HEAD_RACES = 20;

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

  // a transient failure is retried whole: the look-up finds the events if the lost attempt stored them
  return withRetries('append', async () => {
    const earlier = await earlierAppend(context, streamId, ids, window);
    if (earlier) return earlier;
    // Link onto the head read now and append with its exact revision: an append that raced in
    // between makes this one fail (never two events on one head). Only a caller who accepted any
    // head ('any', 'stream_exists') is retried on the new head.
    for (let attempt = 0; ; attempt++) {
      const head = await readStreamHead(context.client, streamId);
      if (!acceptsHead(checked.expected, head))
        throw wrongExpectedRevision(streamId, checked.expected, head === undefined ? 'no_stream' : head.revision);
      const data = chainedEvents(checked.events, head?.hash ?? GENESIS_HEX) as EventData[];
      try {
        const result = await context.client.appendToStream(streamId, data, { expectedRevision: headExpectedRevision(head) });
        const position = commitOf(result.position) ?? (await context.headPosition()) ?? -1n;
        return { nextRevision: Number(result.nextExpectedRevision), position, duplicate: false };
      } catch (error) {
        if (!isWrongExpectedVersion(error)) throw error;
        // the same ids may have landed meanwhile (a concurrent retry): that is a repeat, not a conflict
        const raced = await earlierAppend(context, streamId, ids, window);
        if (raced) return raced;
        const flexible = checked.expected === 'any' || checked.expected === 'stream_exists';
        if (!flexible || attempt >= MAX_HEAD_RACES) throw toConflict(streamId, checked.expected, error);
      }
    }
  });
};
