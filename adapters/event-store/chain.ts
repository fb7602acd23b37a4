import { hash } from 'node:crypto';
import { canonicalJsonText } from './canonical-text.ts';

/**
 * The hash chain every store keeps per stream (docs/audit.md).
 *
 *   content(e) = sha256(canonical JSON of { d: data, i: id, m: metadata, s: streamId, t: type })
 *   hash(e_r)  = sha256(hash(e_{r-1}) ‖ content(e_r)),   hash(e_{-1}) = 32 zero bytes
 *
 * Data is hashed as stored (sealed fields as ciphertext), so erasing a data key leaves every hash
 * valid. Positions and recording times are not covered: a restore into another store assigns new
 * positions, and the chain must verify there too. The content hash is computed by the writer before
 * the append; the link to the previous event is made where the stream's head is locked (SQL) or
 * pinned by an exact expected revision (EventStoreDB), so two appends can never extend one head.
 */
export const GENESIS = Buffer.alloc(32);
export const GENESIS_HEX = GENESIS.toString('hex');

/**
 * JSON with object keys sorted by UTF-16 code units and no whitespace (RFC 8785 for the values
 * JSON.parse can give): the same value serialises the same however a store reorders its keys.
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`;
    first = false;
  }
  return `${out}}`;
};

/** The metadata key EventStoreDB keeps an event's chain hash under (not part of the hashed metadata). */
export const HASH_METADATA_KEY = '$hash';

const withoutHashKey = (metadata: unknown): unknown => {
  if (typeof metadata !== 'object' || metadata === null || !(HASH_METADATA_KEY in metadata)) return metadata;
  const { [HASH_METADATA_KEY]: _omitted, ...rest } = metadata as Record<string, unknown>;
  return rest;
};

export interface HashedContent {
  readonly id: string;
  readonly streamId: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
}

// crypto.hash: the one-shot digest, about 1.7 times faster than createHash for inputs this small.
export const contentHash = (event: HashedContent): Buffer =>
  hash(
    'sha256',
    `{"d":${canonicalJson(event.data)},"i":${JSON.stringify(event.id.toLowerCase())},"m":${canonicalJson(withoutHashKey(event.metadata))},` +
      `"s":${JSON.stringify(event.streamId)},"t":${JSON.stringify(event.type)}}`,
    'buffer',
  );

let lastMetadata = '';
let lastCanonicalMetadata = '';
/** Events of one append share their metadata, and come one after another in the log: canonicalise it once. */
const canonicalMetadataText = (text: string): string => {
  if (text !== lastMetadata) {
    lastCanonicalMetadata = canonicalJsonText(text, HASH_METADATA_KEY);
    lastMetadata = text;
  }
  return lastCanonicalMetadata;
};

/**
 * JSON.stringify of a string, remembering the last one: a log holds each stream's events (and often one
 * type) one after another, and the stringify cost more than the rest of the hashed text's assembly.
 */
export const lastJsonString = () => {
  let text: string | undefined;
  let json = '';
  return (value: string): string => {
    if (value !== text) {
      json = JSON.stringify(value);
      text = value;
    }
    return json;
  };
};

const streamJson = lastJsonString();
const typeJson = lastJsonString();

interface StoredContent {
  readonly id: string;
  readonly streamId: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

/**
 * contentHash of an event read in stored form (data and metadata as JSON text): the same bytes are
 * hashed, canonicalised from the text without parsing it (canonical-text.ts).
 */
export function storedContentHash(event: StoredContent): Buffer;
export function storedContentHash(event: StoredContent, encoding: 'hex'): string;
export function storedContentHash(event: StoredContent, encoding: 'hex' | 'buffer' = 'buffer'): Buffer | string {
  return hash(
    'sha256',
    `{"d":${canonicalJsonText(event.data)},"i":${JSON.stringify(event.id.toLowerCase())},"m":${canonicalMetadataText(event.metadata)},` +
      `"s":${streamJson(event.streamId)},"t":${typeJson(event.type)}}`,
    encoding,
  );
}

export const chainHash = (previous: Buffer, content: Buffer): Buffer => hash('sha256', Buffer.concat([previous, content], 64), 'buffer');

/** hash(e) as hex, from the previous event's hash (hex) and the event as read. */
export const linkHash = (previousHex: string, event: HashedContent): string =>
  chainHash(Buffer.from(previousHex, 'hex'), contentHash(event)).toString('hex');
