import type { EventMetadata, RecordedEvent, StoredEvent } from '../../../domain/ports/event-store.ts';

export interface EventRow {
  position: string | number | bigint;
  event_id: string;
  stream_id: string;
  revision: string | number | bigint;
  type: string;
  data: unknown;
  metadata: unknown;
  /** Milliseconds since the epoch (a number is far cheaper to turn into a Date than timestamptz text). */
  recorded_at: Date | string | number;
  hash: string | null;
}

export const EVENT_COLUMNS =
  "position, event_id, stream_id, revision, type, data, metadata, (extract(epoch FROM recorded_at) * 1000)::float8 AS recorded_at, encode(hash, 'hex') AS hash";

const parseJson = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);

export const toRecordedEvent = (row: EventRow): RecordedEvent => ({
  id: row.event_id,
  streamId: row.stream_id,
  revision: Number(row.revision),
  position: BigInt(row.position),
  type: row.type,
  data: parseJson(row.data),
  metadata: parseJson(row.metadata) as EventMetadata,
  recordedAt: row.recorded_at instanceof Date ? row.recorded_at : new Date(row.recorded_at),
  ...(row.hash ? { hash: row.hash } : {}),
});

/**
 * The stored form (audit reads) comes as one text column per row, its fields joined by U+001F: the pg
 * driver's cost is per column (reading 952,974 rows as nine columns took 6–8.5 µs of CPU a row, as one
 * 4.2–4.9). U+001F cannot occur in position, revision, id or hash (digits, hex, a UUID), nor in data
 * and metadata (PostgreSQL prints JSON with every control character escaped). The stream id and type
 * go in as they are, and the recording time as timestamptz text in UTC (the read sets TimeZone):
 * quoting them with to_json and computing epoch milliseconds with numeric arithmetic cost PostgreSQL a
 * third more per row (283,967 rows: 0.75–0.84 s against 1.0–1.44 s). A row that does not split into
 * nine fields (a stream id or type holding U+001F, which only an edit of the database can put there)
 * or whose time is not in the usual form has its page read again as SAFE_STORED_COLUMNS.
 * A hash column that is NULL (events from before chains) becomes ''.
 */
export interface StoredRow {
  packed: string;
}

export const STORED_COLUMNS = "concat_ws(E'\\x1f', position, revision, event_id, coalesce(encode(hash, 'hex'), ''), recorded_at, stream_id, type, data, metadata) AS packed";

/** The same fields, the stream id and type as JSON strings and the time as epoch milliseconds: whatever they hold, they split. */
export const SAFE_STORED_COLUMNS =
  "concat_ws(E'\\x1f', position, revision, event_id, coalesce(encode(hash, 'hex'), ''), (extract(epoch FROM recorded_at) * 1000)::float8, to_json(stream_id), to_json(type), data, metadata) AS packed";

/** timestamptz text with TimeZone UTC and DateStyle ISO: 2026-11-01 00:01:35.123456+00 (no fraction when it is zero). */
const UTC_TIME = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;
let lastTime = '';
let lastTimeMs = 0;
/** Milliseconds since the epoch (a fraction for microseconds, as epoch * 1000 gave), or NaN for another form. */
const utcTimeMs = (text: string): number => {
  if (text === lastTime) return lastTimeMs;
  const m = UTC_TIME.exec(text);
  const ms = m ? Date.parse(`${m[1]}T${m[2]}Z`) + (m[3] ? Number(m[3].padEnd(6, '0')) / 1000 : 0) : Number.NaN;
  lastTime = text;
  lastTimeMs = ms;
  return ms;
};

/** A row of STORED_COLUMNS, or undefined when its page must be read again as SAFE_STORED_COLUMNS. */
export const toStoredEventFast = (row: StoredRow): StoredEvent | undefined => {
  const f = row.packed.split('\u001f');
  if (f.length !== 9) return undefined;
  const recordedAt = utcTimeMs(f[4]!);
  if (Number.isNaN(recordedAt)) return undefined;
  return {
    id: f[2]!,
    streamId: f[5]!,
    revision: Number(f[1]),
    position: f[0]!,
    type: f[6]!,
    data: f[7]!,
    metadata: f[8]!,
    recordedAt,
    ...(f[3] ? { hash: f[3] } : {}),
  };
};

const jsonString = (token: string): string => (token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1));

/** A row of SAFE_STORED_COLUMNS. */
export const toStoredEvent = (row: StoredRow): StoredEvent => {
  const f = row.packed.split('\u001f');
  if (f.length !== 9) throw new Error(`a stored event row has ${f.length} fields, not 9`);
  return {
    id: f[2]!,
    streamId: jsonString(f[5]!),
    revision: Number(f[1]),
    position: f[0]!,
    type: jsonString(f[6]!),
    data: f[7]!,
    metadata: f[8]!,
    recordedAt: Number(f[4]),
    ...(f[3] ? { hash: f[3] } : {}),
  };
};
