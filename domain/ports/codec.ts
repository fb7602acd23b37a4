import { AppError, hasCode } from '../shared/errors.ts';
import type { Category } from '../shared/streams.ts';
import type { Decoded, EventsByCategory } from '../events.ts';
import type { EventMetadata, NewEvent, RecordedEvent } from './event-store.ts';

/**
 * What a decode reveals of a tenant's encrypted fields:
 * - `stored`: nothing — encrypted fields keep their ciphertext (projections copy it into the read
 *   models, which the read side decrypts on the way to the tenant);
 * - `view`: personal data decrypted, secrets masked (anything shown to a person);
 * - `open`: personal data and secrets decrypted (the command shell, and a component that must use
 *   a secret, e.g. the bot sender with its token).
 * Fields of a tenant whose key was erased read as the erased marker in `view` and `open`.
 */
export type DecodeMode = 'stored' | 'view' | 'open';

/** Names an encrypted field: the event type it was written with and the field, e.g. `MessagePosted.text`. */
export type FieldRef = `${string}.${string}`;

/**
 * The EventCodec port: the only way events are written (`encode`: validate, encrypt the fields each
 * event type marks personal or secret, name the current schema version) and read (`decode`:
 * validate, decrypt what the mode asks for, upcast older versions to the current shape).
 */
export interface EventCodec {
  encode<K extends Category>(
    category: K,
    streamId: string,
    events: readonly { readonly id: string; readonly event: EventsByCategory[K] }[],
    metadata: EventMetadata,
  ): Promise<NewEvent[]>;
  /** Events of one category's streams, typed as that category's events. */
  decodeStream<K extends Category>(category: K, events: readonly RecordedEvent[], mode: DecodeMode): Promise<Decoded<EventsByCategory[K]>[]>;
  /** Events of any stream, typed as the union of all events (narrow with `event.type`). */
  decode(events: readonly RecordedEvent[], mode: DecodeMode): Promise<Decoded[]>;
  /**
   * Decrypts personal values copied out of events (read-model columns) for one tenant: a value that
   * is not a ciphertext (written before encryption) comes back as it is; the tenant's erased key
   * gives the erased marker; a tampered one a `decryption_failed` error.
   */
  revealer(tenantId: string): Promise<Reveal>;
  /** Stored type names of a current event type (older versions first), for filters on the raw log. */
  storedTypes(type: string): readonly string[];
}

export type Reveal = (streamId: string, field: FieldRef, value: string | null) => string | null;

export const CODEC_ERRORS = { decode: 'event_decode_failed', decryption: 'decryption_failed' } as const;

/** An event no retry can decode: no schema version accepts it, or its key cannot open it. */
export const isUndecodable = (error: unknown): boolean => hasCode(error, CODEC_ERRORS.decode) || hasCode(error, CODEC_ERRORS.decryption);

/** A stored event that no version of its schema accepts. */
export const eventDecodeFailed = (event: Pick<RecordedEvent, 'streamId' | 'revision' | 'type'>, why: string) =>
  new AppError('internal', CODEC_ERRORS.decode, `event ${event.type} at ${event.streamId}@${event.revision} cannot be decoded: ${why}`, {
    streamId: event.streamId,
    revision: event.revision,
    eventType: event.type,
  });

/** A ciphertext that does not open with its tenant's key and context (tampered, or moved). */
export const decryptionFailed = (where: { streamId: string; revision?: number; field: string }) =>
  new AppError(
    'internal',
    CODEC_ERRORS.decryption,
    `encrypted field ${where.field} of ${where.streamId}${where.revision === undefined ? '' : `@${where.revision}`} does not decrypt: tampered with or moved`,
    { ...where },
  );
