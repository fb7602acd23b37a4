import { parseStreamId } from '../../domain/shared/streams.ts';
import { invalidAppend } from '../../domain/ports/event-store.ts';
import type { ExpectedRevision, NewEvent } from '../../domain/ports/event-store.ts';
import { contentHash } from './chain.ts';

export const MAX_EVENT_BYTES = 1024 * 1024;
export const MAX_EVENTS_PER_APPEND = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;

export interface EncodedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: string; // JSON text
  readonly metadata: string; // JSON text
  /** sha256 of the event's canonical content, hex (adapters/event-store/chain.ts): the writer links it to the stream's head. '' when unchained (benchmarks). */
  readonly contentHash: string;
  /** Restores only: when the event was first recorded. */
  readonly recordedAt?: string;
  readonly tenantId: string;
  readonly category: string;
}

export const checkExpectedRevision = (expected: unknown): ExpectedRevision => {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return expected;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return expected;
  throw invalidAppend(`malformed expected revision: ${String(expected).slice(0, 40)}`, { expected: String(expected).slice(0, 40) });
};

/** Encodes `value` as JSON or throws: rejects what JSON would silently change (undefined, NaN, bigint, cycles, functions). */
const toJson = (value: unknown, what: string): string => {
  const reject = (why: string) => {
    throw invalidAppend(`event ${what} is not JSON-serialisable: ${why}`);
  };
  const seen = new Set<object>();
  const check = (v: unknown): void => {
    switch (typeof v) {
      case 'string':
        // PostgreSQL's jsonb cannot hold U+0000; refuse it here for every store alike.
        if (v.includes('\u0000')) reject('a string contains U+0000');
        if (!v.isWellFormed()) reject('a string contains a lone UTF-16 surrogate');
        return;
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(v)) reject('non-finite number');
        return;
      case 'object': {
        if (v === null) return;
        if (seen.has(v)) reject('circular reference');
        seen.add(v);
        if (Array.isArray(v)) v.forEach(check);
        else {
          const proto = Object.getPrototypeOf(v) as unknown;
          if (proto !== Object.prototype && proto !== null) reject(`instance of ${(v as object).constructor?.name ?? 'unknown'}`);
          for (const [key, item] of Object.entries(v)) {
            check(key);
            check(item);
          }
        }
        seen.delete(v);
        return;
      }
      default:
        reject(typeof v);
    }
  };
  check(value);
  return JSON.stringify(value);
};

/** Validates an append before anything touches storage; every adapter calls this first. */
export const encodeAppend = (
  streamId: string,
  events: readonly NewEvent[],
  expected: unknown,
  options: { readonly hash?: boolean } = {},
): { expected: ExpectedRevision; events: EncodedEvent[]; category: string; tenantId: string } => {
  const name = parseStreamId(streamId);
  const checkedExpected = checkExpectedRevision(expected);
  if (!Array.isArray(events) || events.length === 0) throw invalidAppend('an append needs at least one event');
  if (events.length > MAX_EVENTS_PER_APPEND) throw invalidAppend(`at most ${MAX_EVENTS_PER_APPEND} events per append`);
  const ids = new Set<string>();
  const encoded = events.map((event, index) => {
    if (typeof event?.id !== 'string' || !UUID.test(event.id)) throw invalidAppend(`event ${index}: id must be a UUID`);
    const id = event.id.toLowerCase();
    if (ids.has(id)) throw invalidAppend(`event ${index}: duplicate id within the append`);
    ids.add(id);
    if (typeof event.type !== 'string' || !EVENT_TYPE.test(event.type)) throw invalidAppend(`event ${index}: invalid type`);
    const data = toJson(event.data ?? null, 'data');
    const metadata = toJson(event.metadata ?? {}, 'metadata');
    const bytes = Buffer.byteLength(data) + Buffer.byteLength(metadata);
    if (bytes > MAX_EVENT_BYTES)
      throw invalidAppend(`event ${index} is ${bytes} bytes; the limit is ${MAX_EVENT_BYTES}`, { bytes, limit: MAX_EVENT_BYTES });
    const recordedAt = event.recordedAt;
    if (recordedAt !== undefined && !(recordedAt instanceof Date && Number.isFinite(recordedAt.getTime())))
      throw invalidAppend(`event ${index}: recordedAt must be a valid Date`);
    const hash = options.hash === false ? '' : contentHash({ id, streamId, type: event.type, data: event.data ?? null, metadata: event.metadata ?? {} }).toString('hex');
    return {
      id,
      type: event.type,
      data,
      metadata,
      contentHash: hash,
      ...(recordedAt ? { recordedAt: recordedAt.toISOString() } : {}),
      tenantId: name.tenantId,
      category: name.category,
    };
  });
  return { expected: checkedExpected, events: encoded, category: name.category, tenantId: name.tenantId };
};

/** Does an event match a read filter? Shared by adapters that filter in memory. */
export const matchesFilter = (
  event: { streamId: string; type: string },
  filter: { tenantId?: string; categories?: readonly string[]; eventTypes?: readonly string[] } | undefined,
): boolean => {
  if (!filter) return true;
  if (filter.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  if (!filter.tenantId && !filter.categories) return true;
  const name = parseStreamId(event.streamId);
  if (filter.tenantId && name.tenantId !== filter.tenantId) return false;
  if (filter.categories && !filter.categories.includes(name.category)) return false;
  return true;
};
