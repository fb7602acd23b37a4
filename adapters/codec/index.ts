import { decryptionFailed, eventDecodeFailed } from '../../domain/ports/codec.ts';
import type { DecodeMode, EventCodec, FieldRef } from '../../domain/ports/codec.ts';
import type { EventMetadata, NewEvent, RecordedEvent } from '../../domain/ports/event-store.ts';
import { encryptionUnavailable, ERASED_MARKER, SECRET_MARKER } from '../../domain/ports/keys.ts';
import type { KeyService, TenantCipher } from '../../domain/ports/keys.ts';
import type { AnyEvent, Decoded, EventsByCategory } from '../../domain/events.ts';
import { AppError } from '../../domain/shared/errors.ts';
import { parseStreamId } from '../../domain/shared/streams.ts';
import type { Category } from '../../domain/shared/streams.ts';
import { tenantErased } from '../../domain/tenant/facts.ts';
import { looksSealed } from '../crypto/aead.ts';
import type { Catalog, CatalogEntry } from './catalog.ts';
import { billingCatalog } from './schemas/billing.ts';
import { conversationCatalog } from './schemas/conversation.ts';
import { knightCatalog } from './schemas/knight.ts';
import { tenantCatalog } from './schemas/tenant.ts';

const CATALOGS: { readonly [K in Category]: Catalog<EventsByCategory[K]> } = {
  tenant: tenantCatalog,
  conversation: conversationCatalog,
  knight: knightCatalog,
  billing: billingCatalog,
};

/** Metadata mark of an event whose non-null encrypted fields hold ciphertext (events without it predate encryption). */
const SEALED_MARK = 'enc';

/** Additional data of a field's ciphertext: it opens only in the same tenant, stream and field. */
export const fieldAad = (tenantId: string, streamId: string, field: FieldRef): string => `${tenantId}\u001f${streamId}\u001f${field}`;

export interface EventCodecOptions {
  /**
   * The tenants' data keys. `null` for a process that holds none: it can decode in `stored` mode
   * (the projector) but neither writes events with encrypted fields nor reveals them.
   */
  readonly keys: KeyService | null;
  /** Benchmarks only: with no keys, write encrypted fields in plaintext instead of refusing. */
  readonly plaintextWithoutKeys?: boolean;
}


const issueText = (error: unknown): string => {
  const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
  if (Array.isArray(issues)) return issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(data)'}: ${i.message}`).join('; ');
  return error instanceof Error ? error.message : String(error);
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export const createEventCodec = (options: EventCodecOptions): EventCodec => {
  const { keys } = options;

  const catalogOf = (category: Category): Catalog<AnyEvent> => CATALOGS[category];

  const protectionOf = (field: FieldRef): 'personal' | 'secret' | undefined => {
    const [type, name] = field.split('.') as [string, string];
    for (const catalog of Object.values(CATALOGS) as Catalog<AnyEvent>[]) {
      const entry = catalog.entry(type);
      if (entry) return entry.protectedFields.get(name);
    }
    return undefined;
  };

  /** Ciphers of the tenants whose sealed fields this batch must open; undefined for an erased tenant. */
  const ciphersFor = async (events: readonly RecordedEvent[], mode: DecodeMode): Promise<Map<string, TenantCipher | undefined>> => {
    const ciphers = new Map<string, TenantCipher | undefined>();
    if (mode === 'stored') return ciphers;
    const tenants = new Set<string>();
    for (const e of events) if (e.metadata[SEALED_MARK] === 1) tenants.add(parseStreamId(e.streamId).tenantId);
    if (tenants.size === 0) return ciphers;
    if (!keys) throw encryptionUnavailable();
    await Promise.all([...tenants].map(async (t) => ciphers.set(t, await keys.cipherFor(t))));
    return ciphers;
  };

  const decodeOne = (event: RecordedEvent, mode: DecodeMode, ciphers: Map<string, TenantCipher | undefined>, only?: Category): Decoded => {
    const name = parseStreamId(event.streamId);
    if (only !== undefined && name.category !== only) throw eventDecodeFailed(event, `a ${only} stream was expected`);
    const resolved = catalogOf(name.category).resolve(event.type);
    if (!resolved) throw eventDecodeFailed(event, `no ${name.category} event has this type`);
    if (event.metadata.tenantId !== name.tenantId) throw eventDecodeFailed(event, 'its metadata names another tenant than its stream');
    const { entry, version } = resolved;
    let data = event.data;
    if (entry.protectedFields.size > 0 && mode !== 'stored' && isObject(data)) {
      const sealed = event.metadata[SEALED_MARK] === 1;
      const cipher = ciphers.get(name.tenantId);
      const copy = { ...data };
      for (const [field, protection] of entry.protectedFields) {
        const value = copy[field];
        if (typeof value !== 'string') continue;
        if (protection === 'secret' && mode === 'view') copy[field] = SECRET_MARKER;
        else if (!sealed) continue;
        else if (!cipher) copy[field] = ERASED_MARKER;
        else {
          const plain = cipher.open(fieldAad(name.tenantId, event.streamId, `${entry.type}.${field}`), value);
          if (plain === undefined) throw decryptionFailed({ streamId: event.streamId, revision: event.revision, field: `${entry.type}.${field}` });
          copy[field] = plain;
        }
      }
      data = copy;
    }
    if (entry.hiddenFields.length > 0 && mode === 'view' && isObject(data)) {
      const copy: Record<string, unknown> = { ...data };
      for (const field of entry.hiddenFields) if (typeof copy[field] === 'string') copy[field] = SECRET_MARKER;
      data = copy;
    }
    let typed: AnyEvent;
    try {
      typed = catalogOf(name.category).parse(entry, version, data);
    } catch (error) {
      throw eventDecodeFailed(event, issueText(error));
    }
    const { id, streamId, revision, position, metadata, recordedAt } = event;
    return { id, streamId, revision, position, metadata, recordedAt, ...typed };
  };

  const encodeOne = (category: Category, streamId: string, tenantId: string, id: string, event: AnyEvent, cipher: TenantCipher | undefined) => {
    const catalog = catalogOf(category);
    const entry: CatalogEntry | undefined = catalog.entry(event.type);
    if (!entry) throw new AppError('internal', 'event_encode_failed', `${event.type} is not a ${category} event`);
    try {
      catalog.check(event);
    } catch (error) {
      throw new AppError('internal', 'event_encode_failed', `${event.type} does not match its schema: ${issueText(error)}`);
    }
    let sealed = false;
    const source: unknown = event.data;
    const data: Record<string, unknown> = isObject(source) ? { ...source } : {};
    if (cipher)
      for (const field of entry.protectedFields.keys()) {
        const value = data[field];
        if (typeof value !== 'string') continue;
        data[field] = cipher.seal(fieldAad(tenantId, streamId, `${entry.type}.${field}`), value);
        sealed = true;
      }
    return { id, type: entry.storedName, data, sealed };
  };

  return {
    async encode(category, streamId, items, metadata: EventMetadata) {
      const { tenantId } = parseStreamId(streamId);
      const needsKey = items.some(({ event }) => {
        const fields = catalogOf(category).entry(event.type)?.protectedFields;
        const data: unknown = event.data;
        return fields !== undefined && isObject(data) && [...fields.keys()].some((f) => typeof data[f] === 'string');
      });
      let cipher: TenantCipher | undefined;
      if (needsKey) {
        if (keys) {
          cipher = await keys.cipherFor(tenantId, { create: true });
          if (!cipher) throw tenantErased();
        } else if (!options.plaintextWithoutKeys) throw encryptionUnavailable();
      }
      return items.map(({ id, event }): NewEvent => {
        const encoded = encodeOne(category, streamId, tenantId, id, event, cipher);
        return { id, type: encoded.type, data: encoded.data, metadata: encoded.sealed ? { ...metadata, [SEALED_MARK]: 1 } : metadata };
      });
    },

    async decodeStream(category, events, mode) {
      const ciphers = await ciphersFor(events, mode);
      // Each event was checked to be of this category's streams and parsed by its catalog.
      return events.map((e) => decodeOne(e, mode, ciphers, category)) as Decoded<EventsByCategory[typeof category]>[];
    },

    async decode(events, mode) {
      const ciphers = await ciphersFor(events, mode);
      return events.map((e) => decodeOne(e, mode, ciphers));
    },

    async revealer(tenantId) {
      const cipher = keys ? await keys.cipherFor(tenantId) : undefined;
      return (streamId, field, value) => {
        if (value === null) return value;
        if (protectionOf(field) === 'secret') return SECRET_MARKER; // secrets never reach a read or a response
        if (!looksSealed(value)) return value;
        if (!keys) throw encryptionUnavailable();
        if (!cipher) return ERASED_MARKER;
        const plain = cipher.open(fieldAad(tenantId, streamId, field), value);
        if (plain === undefined) throw decryptionFailed({ streamId, field });
        return plain;
      };
    },

    storedTypes(type) {
      for (const catalog of Object.values(CATALOGS) as Catalog<AnyEvent>[]) {
        const entry = catalog.entry(type);
        if (entry) return Array.from({ length: entry.version }, (_, i) => (i === 0 ? entry.type : `${entry.type}.v${i + 1}`));
      }
      return [type];
    },
  };
};
