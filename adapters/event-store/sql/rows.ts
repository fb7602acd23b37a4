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

/** The stored form (audit reads): JSON columns as text, so the driver parses no JSON. */
export interface StoredRow {
  /** Not `position`: ORDER BY position would then sort by this text. */
  pos: string;
  event_id: string;
  stream_id: string;
  revision: string | number;
  type: string;
  data: string;
  metadata: string;
  recorded_at: number;
  hash: string | null;
}

export const STORED_COLUMNS =
  "position::text AS pos, event_id::text AS event_id, stream_id, revision, type, data::text AS data, metadata::text AS metadata, (extract(epoch FROM recorded_at) * 1000)::float8 AS recorded_at, encode(hash, 'hex') AS hash";

export const toStoredEvent = (row: StoredRow): StoredEvent => ({
  id: row.event_id,
  streamId: row.stream_id,
  revision: Number(row.revision),
  position: row.pos,
  type: row.type,
  data: row.data,
  metadata: row.metadata,
  recordedAt: row.recorded_at,
  ...(row.hash ? { hash: row.hash } : {}),
});
