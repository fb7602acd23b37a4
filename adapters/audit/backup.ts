import { z } from 'zod';
import type { EventStore, ExpectedRevision, NewEvent, RecordedEvent } from '../../domain/ports/event-store.ts';
import type { KeyService, WrappedDataKey } from '../../domain/ports/keys.ts';
import { AppError } from '../../domain/shared/errors.ts';
import { BACKUP_FORMAT, verifyStore } from './check.ts';
import { fileLines, malformedFile, parseJsonLine, storedChunk, storedPages, toEvent } from './lines.ts';
import type { VerifyReport } from './verify.ts';
import { createChainVerifier } from './verify.ts';

/**
 * A backup is one NDJSON file: a header, every tenant's data key still wrapped (tombstones of erased
 * tenants included), then the whole log in global order with hashes. It restores into an empty
 * store of any kind; the chains verify there too, because hashes do not cover positions.
 */
const keyLineSchema = z.object({
  kind: z.literal('key'),
  tenantId: z.string().min(1),
  masterKeyId: z.string().nullable(),
  wrapped: z.string().base64().nullable(),
  createdAt: z.string().min(1),
  erasedAt: z.string().nullable(),
});

type Write = (chunk: string) => Promise<void>;

export const writeBackup = async (
  deps: { store: EventStore; keys: Pick<KeyService, 'exportWrapped'> },
  write: Write,
  onProgress?: (events: number, position: bigint) => void,
): Promise<VerifyReport> => {
  const head = await deps.store.headPosition();
  await write(`${JSON.stringify({ format: BACKUP_FORMAT, createdAt: new Date().toISOString(), head: String(head ?? -1n) })}\n`);
  for (const key of await deps.keys.exportWrapped()) await write(`${JSON.stringify({ kind: 'key', ...key })}\n`);
  const verifier = createChainVerifier();
  for await (const page of storedPages(deps.store, head === undefined ? { to: -1n } : { to: head })) {
    for (const event of page) verifier.addStored(event);
    await write(storedChunk(page));
    onProgress?.(page.length, BigInt(page[page.length - 1]!.position));
  }
  return verifier.finish();
};

const storeNotEmpty = () => new AppError('conflict', 'store_not_empty', 'restore needs an empty event store: this one holds events; nothing was written');

interface Parsed {
  readonly keys: WrappedDataKey[];
  readonly events: number;
  readonly heads: { streamId: string; revision: number; hash: string }[];
}

const isErasure = (type: string): boolean => type === 'TenantErased' || type.startsWith('TenantErased.');

/**
 * The keys a restore may load: a tenant whose log in the backup holds TenantErased gets a tombstone,
 * whatever its key line says. A backup taken before the key was deleted (before the erasure, or
 * between TenantErased and the deletion) still holds the live key; loading it would make the erased
 * tenant's personal data readable again. An erased tenant without a key line gets a tombstone too,
 * so it never gets a fresh key.
 */
export const keysToRestore = (keys: readonly WrappedDataKey[], erased: ReadonlyMap<string, string>): WrappedDataKey[] => {
  const out = keys.map((k) => {
    const at = erased.get(k.tenantId);
    return at === undefined || k.wrapped === null ? k : { ...k, masterKeyId: null, wrapped: null, erasedAt: k.erasedAt ?? at };
  });
  const present = new Set(keys.map((k) => k.tenantId));
  for (const [tenantId, at] of erased) if (!present.has(tenantId)) out.push({ tenantId, masterKeyId: null, wrapped: null, createdAt: at, erasedAt: at });
  return out;
};

/** Pass 1: every line parses and every chain holds, before anything is written. */
const checkBackup = async (path: string, onProgress?: (events: number) => void): Promise<Parsed> => {
  const keys: WrappedDataKey[] = [];
  /** Tenants whose log holds TenantErased, and when it was recorded. */
  const erased = new Map<string, string>();
  const verifier = createChainVerifier();
  let headerSeen = false;
  let events = 0;
  for await (const { text, line } of fileLines(path)) {
    const json = parseJsonLine(text, line);
    if (!headerSeen) {
      if ((json as { format?: unknown } | null)?.format !== BACKUP_FORMAT) throw malformedFile(line, `not a backup: the first line must be the header {"format":"${BACKUP_FORMAT}",…}`);
      headerSeen = true;
      continue;
    }
    if ((json as { kind?: unknown } | null)?.kind === 'key') {
      const key = keyLineSchema.safeParse(json);
      if (!key.success) throw malformedFile(line, `not a data key line: ${key.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const { kind: _kind, ...wrapped } = key.data;
      keys.push(wrapped);
      continue;
    }
    const event = toEvent(json, line);
    verifier.add(event, line);
    if (isErasure(event.type) && typeof event.metadata.tenantId === 'string' && !erased.has(event.metadata.tenantId))
      erased.set(event.metadata.tenantId, event.recordedAt.toISOString());
    if (++events % 10_000 === 0) onProgress?.(10_000);
  }
  if (!headerSeen) throw malformedFile(1, 'the file is empty');
  const report = verifier.finish();
  if (report.break) throw new AppError('validation', 'chain_broken', `the backup does not verify: ${report.break.message}`, { ...report.break });
  return { keys: keysToRestore(keys, erased), events, heads: verifier.heads() };
};

const asNewEvent = (e: RecordedEvent): NewEvent => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata, recordedAt: e.recordedAt });

/** Appends at most this many appends at once (distinct streams): the SQL stores write them as one batch. */
const WINDOW_APPENDS = 200;
const WINDOW_EVENTS = 3_000;

const HEAD_WAIT_MS = 60_000;

/** Until the log's head has reached `position`, polling; an error naming both if it has not within a minute. */
const untilHead = async (store: EventStore, position: bigint): Promise<void> => {
  const deadline = Date.now() + HEAD_WAIT_MS;
  for (;;) {
    const head = await store.headPosition();
    if (head !== undefined && head >= position) return;
    if (Date.now() > deadline)
      throw new AppError('unavailable', 'restore_not_visible', `the restored events up to position ${position} are not readable yet (head ${head ?? 'none'}): a long transaction holds the log back`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/**
 * Loads a backup into an empty store: checks the whole file first (parse and chains: a bad line or
 * a broken link writes nothing), loads the data keys (an erased tenant's as a tombstone), then appends every event with its original
 * id, revision and recording time, in log order. Finally verifies the store's chains and that each
 * stream ends on the head hash the backup had.
 */
export const restoreBackup = async (
  deps: { store: EventStore; keys: Pick<KeyService, 'importWrapped'>; checkKeys?: (keys: readonly WrappedDataKey[]) => void },
  path: string,
  onProgress?: (phase: 'check' | 'write', events: number) => void,
): Promise<{ events: number; keys: number; streams: number }> => {
  const empty = async () => (await deps.store.headPosition()) === undefined && (await deps.store.countAfter(undefined, { limit: 1 })) === 0;
  if (!(await empty())) throw storeNotEmpty();
  const parsed = await checkBackup(path, (n) => onProgress?.('check', n));
  deps.checkKeys?.(parsed.keys);
  if (!(await empty())) throw storeNotEmpty();
  await deps.keys.importWrapped(parsed.keys);

  let window: { streamId: string; events: RecordedEvent[] }[] = [];
  let windowEvents = 0;
  let lastPosition: bigint | undefined;
  const flush = async () => {
    const results = await Promise.all(
      window.map(({ streamId, events }) => {
        const first = events[0]!.revision;
        const expected: ExpectedRevision = first === 0 ? 'no_stream' : first - 1;
        return deps.store.append(streamId, events.map(asNewEvent), expected);
      }),
    );
    for (const { position } of results) if (position !== undefined && (lastPosition === undefined || position > lastPosition)) lastPosition = position;
    onProgress?.('write', windowEvents);
    window = [];
    windowEvents = 0;
  };
  const place = async (event: RecordedEvent) => {
    const last = window[window.length - 1];
    if (last && last.streamId === event.streamId) last.events.push(event);
    else {
      // a stream already in this window must not get a second append in the same batch
      if (window.length >= WINDOW_APPENDS || windowEvents >= WINDOW_EVENTS || window.some((w) => w.streamId === event.streamId)) await flush();
      window.push({ streamId: event.streamId, events: [event] });
    }
    windowEvents++;
  };
  // A stream's revisions may come out of position order (racing `any` appends); pass 1 checked that
  // each missing one comes later: hold those read ahead and append each stream in revision order.
  const nextRevision = new Map<string, number>();
  const held = new Map<string, Map<number, RecordedEvent>>();
  for await (const { text, line } of fileLines(path)) {
    const json = parseJsonLine(text, line);
    const kind = (json as { kind?: unknown; format?: unknown } | null);
    if (kind?.kind === 'key' || kind?.format !== undefined) continue;
    const event = toEvent(json, line);
    const { streamId } = event;
    if (event.revision !== (nextRevision.get(streamId) ?? 0)) {
      const waiting = held.get(streamId) ?? new Map<number, RecordedEvent>();
      held.set(streamId, waiting.set(event.revision, event));
      continue;
    }
    await place(event);
    nextRevision.set(streamId, event.revision + 1);
    const waiting = held.get(streamId);
    for (let e = waiting?.get(event.revision + 1); e; e = waiting?.get(e.revision + 1)) {
      waiting!.delete(e.revision);
      await place(e);
      nextRevision.set(streamId, e.revision + 1);
    }
    if (waiting?.size === 0) held.delete(streamId);
  }
  if (window.length > 0) await flush();

  // A read of the whole log shows an append once every transaction begun before it has ended (on
  // PostgreSQL, another client's may hold that back a moment): verify what was written, all of it.
  if (lastPosition !== undefined) await untilHead(deps.store, lastPosition);
  const restored = await verifyStore(deps.store);
  if (restored.break) throw new AppError('internal', 'restore_unverified', `the restored log does not verify: ${restored.break.message}`, { ...restored.break });
  const heads = new Map(restored.heads.map((h) => [h.streamId, h]));
  for (const head of parsed.heads) {
    const now = heads.get(head.streamId);
    if (now?.hash !== head.hash || now.revision !== head.revision)
      throw new AppError('internal', 'restore_unverified', `${head.streamId} was restored up to revision ${now?.revision ?? -1}, the backup has ${head.revision} (hash ${head.hash})`);
  }
  return { events: parsed.events, keys: parsed.keys.length, streams: parsed.heads.length };
};
