/**
 * Pure translations between the EventStore port and @eventstore/db-client 6.x (no I/O here, so
 * everything in this file is unit-tested without a server).
 */
import { ANY, NO_STREAM, START, STREAM_EXISTS } from '@eventstore/db-client';
import type { AppendExpectedRevision, Position, ReadPosition } from '@eventstore/db-client';
import type { EventFilter, EventMetadata, ExpectedRevision, RecordedEvent } from '../../../domain/ports/event-store.ts';
import { CATEGORIES, parseStreamId } from '../../../domain/shared/streams.ts';
import { chainHash, GENESIS_HEX, HASH_METADATA_KEY } from '../chain.ts';
import { matchesFilter } from '../validate.ts';
import type { EncodedEvent } from '../validate.ts';

/** 'any' → ANY, 'no_stream' → NO_STREAM, 'stream_exists' → STREAM_EXISTS, n → BigInt(n). */
export const toEsdbExpectedRevision = (expected: ExpectedRevision): AppendExpectedRevision => {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return BigInt(expected);
  }
};

/** WrongExpectedVersionError.actualVersion (bigint | 'no_stream') → the port's actual revision. */
export const toActualRevision = (actual: unknown): number | 'no_stream' =>
  typeof actual === 'bigint' || typeof actual === 'number' ? Number(actual) : 'no_stream';

/** Escapes a literal for a regex that both JavaScript and .NET (the server) read the same way. */
export const escapeRegex = (literal: string): string => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const NOTHING = '^(?!)'; // matches no stream name (an empty `categories` list)

/**
 * Stream-name regex for the tenant/category part of a filter, or undefined when the filter does not
 * narrow streams. Streams: `tenant-<t>`, `conversation-<t>.<id>`, `knight-<t>.<id>`, `billing-<t>`.
 */
export const streamNameRegex = (filter: EventFilter | undefined): string | undefined => {
  const tenant = filter?.tenantId;
  const categories = filter?.categories;
  if (tenant === undefined && categories === undefined) return undefined;
  if (categories !== undefined && categories.length === 0) return NOTHING;
  const t = tenant === undefined ? undefined : escapeRegex(tenant);
  const cats = categories ?? CATEGORIES;
  const alternatives = cats.map((category) => {
    const c = escapeRegex(category);
    if (t === undefined) return `${c}-`;
    return category === 'tenant' || category === 'billing' ? `${c}-${t}$` : `${c}-${t}\\.`;
  });
  return `^(${[...new Set(alternatives)].join('|')})`;
};

/** Event-type regex (exact names) for a filter that narrows only by type. */
export const eventTypeRegex = (types: readonly string[]): string =>
  types.length === 0 ? NOTHING : `^(${types.map(escapeRegex).join('|')})$`;

/**
 * ESDB takes one server-side filter per subscription: stream names when the filter names a tenant or
 * categories, else event types when it names types, else "no system events". The rest of a filter
 * is applied in memory by `accepts`.
 */
export type ServerFilter =
  | { readonly on: 'streamName'; readonly regex: string }
  | { readonly on: 'eventType'; readonly regex: string }
  | { readonly on: 'excludeSystemEvents' };

export const serverFilterFor = (filter: EventFilter | undefined): ServerFilter => {
  const streams = streamNameRegex(filter);
  if (streams !== undefined) return { on: 'streamName', regex: streams };
  if (filter?.eventTypes !== undefined) return { on: 'eventType', regex: eventTypeRegex(filter.eventTypes) };
  return { on: 'excludeSystemEvents' };
};

/** Positions: the port's position is the commit position. */
export const toReadPosition = (after: bigint | undefined): ReadPosition =>
  after === undefined ? START : { commit: after, prepare: after };

/** The u64 max a pre-22.6 server sends for positions of events read from a stream. */
export const UNKNOWN_POSITION = (1n << 64n) - 1n;

export const commitOf = (position: Position | undefined): bigint | undefined =>
  position === undefined || position.commit === UNKNOWN_POSITION || position.commit < 0n ? undefined : position.commit;

/** The shape of a client RecordedEvent this adapter reads. */
export interface EsdbRecord {
  readonly id: string;
  readonly streamId: string;
  readonly revision: bigint;
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: unknown;
  readonly created: Date;
  readonly position?: Position;
}

export const isSystemRecord = (record: { streamId: string; type: string }): boolean =>
  record.streamId.startsWith('$') || record.type.startsWith('$');

const parses = (streamId: string): boolean => {
  try {
    parseStreamId(streamId);
    return true;
  } catch {
    return false;
  }
};

/** Is this a user event of this store's naming scheme that the filter selects? */
export const accepts = (record: { streamId: string; type: string }, filter: EventFilter | undefined): boolean =>
  !isSystemRecord(record) && parses(record.streamId) && matchesFilter(record, filter);

const asMetadata = (metadata: unknown): Record<string, unknown> =>
  (typeof metadata === 'object' && metadata !== null && !(metadata instanceof Uint8Array) ? metadata : {}) as Record<string, unknown>;

/** The chain hash an event carries in its metadata (`$hash`), if any. */
export const storedHashOf = (metadata: unknown): string | undefined => {
  const hash = asMetadata(metadata)[HASH_METADATA_KEY];
  return typeof hash === 'string' ? hash : undefined;
};

/** Client record → port event (the chain hash moved out of the metadata). `position` is -1n when the server did not send one (server < 22.6). */
export const toRecordedEvent = (record: EsdbRecord): RecordedEvent => {
  const { [HASH_METADATA_KEY]: hash, ...metadata } = asMetadata(record.metadata);
  return {
    id: record.id.toLowerCase(),
    streamId: record.streamId,
    revision: Number(record.revision),
    position: commitOf(record.position) ?? -1n,
    type: record.type,
    data: record.data,
    metadata: metadata as EventMetadata,
    recordedAt: record.created,
    ...(typeof hash === 'string' ? { hash } : {}),
  };
};

/**
 * The events of an append linked onto the stream's head (`previousHash`, the genesis for a new
 * stream): each carries its chain hash in its metadata. The append that writes them must name the
 * head's exact revision, so that a concurrent append onto the same head fails instead of forking.
 */
export const chainedEvents = (events: readonly EncodedEvent[], previousHash: string = GENESIS_HEX) => {
  let previous: Buffer = Buffer.from(previousHash, 'hex');
  return events.map((event) => {
    previous = chainHash(previous, Buffer.from(event.contentHash, 'hex'));
    const metadata = { ...(JSON.parse(event.metadata) as Record<string, unknown>), [HASH_METADATA_KEY]: previous.toString('hex') };
    return { id: event.id, contentType: 'application/json' as const, type: event.type, data: JSON.parse(event.data) as unknown, metadata };
  });
};

/** The exact expected revision an append onto `head` sends: the head's revision, or NO_STREAM. */
export const headExpectedRevision = (head: { revision: number } | undefined): AppendExpectedRevision =>
  head === undefined ? NO_STREAM : BigInt(head.revision);

/** Does the caller's expected revision accept this head? (Checked before the exact append.) */
export const acceptsHead = (expected: ExpectedRevision, head: { revision: number } | undefined): boolean => {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return head === undefined;
    case 'stream_exists':
      return head !== undefined;
    default:
      return head !== undefined && head.revision === expected;
  }
};
