import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { EventMetadata, EventStore, ReadAllOptions, RecordedEvent, StoredEvent } from '../../domain/ports/event-store.ts';
import { AppError } from '../../domain/shared/errors.ts';
import { lastJsonString } from '../event-store/chain.ts';

/**
 * One event per line (NDJSON), the format of `GET /audit/events`, `audit export` and backups:
 * {"position":"…","streamId":"…","revision":n,"id":"…","type":"Type.vN","data":…,"metadata":…,"recordedAt":"ISO","hash":"hex"}
 * Data is as stored: sealed fields stay ciphertext, so a line verifies without any key.
 */
export const eventLine = (e: RecordedEvent): string =>
  `{"position":"${e.position}","streamId":${JSON.stringify(e.streamId)},"revision":${e.revision},"id":"${e.id}","type":${JSON.stringify(e.type)},` +
  `"data":${JSON.stringify(e.data)},"metadata":${JSON.stringify(e.metadata)},"recordedAt":"${e.recordedAt.toISOString()}"${e.hash ? `,"hash":"${e.hash}"` : ''}}\n`;

let isoMs = Number.NaN;
let isoText = '';
/** Events of one append share their recording time: the last one formatted is usually the next one too. */
const isoTime = (ms: number): string => {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
};

const streamJson = lastJsonString();
const typeJson = lastJsonString();

/** An event in stored form; in a partial export, a stream's first line also names the hash of the event before it. */
export type ExportedEvent = StoredEvent & { readonly prev?: string | undefined };

/** The same line from an event in stored form: its data and metadata text go in as they are. */
export const storedLine = (e: ExportedEvent): string =>
  `{"position":"${e.position}","streamId":${streamJson(e.streamId)},"revision":${e.revision},"id":"${e.id}","type":${typeJson(e.type)},` +
  `"data":${e.data},"metadata":${e.metadata},"recordedAt":"${isoTime(e.recordedAt)}"${e.hash ? `,"hash":"${e.hash}"` : ''}${e.prev ? `,"prev":"${e.prev}"` : ''}}\n`;

/**
 * A page's lines as one string, for one write. Joined rather than appended one by one: a string built
 * by `+=` is a rope that must be flattened before it can be written, which cost more than the lines.
 */
export const storedChunk = (page: readonly ExportedEvent[]): string => {
  const lines = new Array<string>(page.length);
  for (let i = 0; i < page.length; i++) lines[i] = storedLine(page[i]!);
  return lines.join('');
};

/** A read event in stored form (for stores that only read parsed events). */
export const toStored = (e: RecordedEvent): StoredEvent => ({
  id: e.id,
  streamId: e.streamId,
  revision: e.revision,
  position: String(e.position),
  type: e.type,
  data: JSON.stringify(e.data ?? null),
  metadata: JSON.stringify(e.metadata),
  recordedAt: e.recordedAt.getTime(),
  ...(e.hash ? { hash: e.hash } : {}),
});

const eventLineSchema = z.object({
  position: z.string().regex(/^\d{1,30}$/, 'a decimal position'),
  streamId: z.string().min(1),
  revision: z.number().int().nonnegative(),
  id: z.string().uuid(),
  type: z.string().min(1),
  data: z.unknown(),
  metadata: z.record(z.string(), z.unknown()),
  recordedAt: z.string().datetime({ offset: true }),
  hash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  prev: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});

export const malformedFile = (line: number, why: string) =>
  new AppError('validation', 'malformed_file', `line ${line}: ${why}`, { line });

/** Parses JSON text of one line or throws `malformed_file` naming the line. */
export const parseJsonLine = (text: string, line: number): unknown => {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw malformedFile(line, `not JSON (${(error as Error).message})`);
  }
};

export const toEvent = (json: unknown, line: number): RecordedEvent & { readonly prev?: string } => {
  const parsed = eventLineSchema.safeParse(json);
  if (!parsed.success) throw malformedFile(line, `not an event line: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(line)'}: ${i.message}`).join('; ')}`);
  const e = parsed.data;
  return {
    id: e.id,
    streamId: e.streamId,
    revision: e.revision,
    position: BigInt(e.position),
    type: e.type,
    data: e.data ?? null,
    metadata: e.metadata as EventMetadata,
    recordedAt: new Date(e.recordedAt),
    ...(e.hash ? { hash: e.hash } : {}),
    ...(e.prev ? { prev: e.prev } : {}),
  };
};

/** The non-empty lines of a file with their 1-based numbers. */
export async function* fileLines(path: string): AsyncGenerator<{ text: string; line: number }> {
  const reader = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of reader) {
    line++;
    if (text.trim() !== '') yield { text, line };
  }
}

export interface LogRange {
  readonly tenantId?: string;
  /** Inclusive first position (resume with the last position received + 1). */
  readonly from?: bigint;
  /** Inclusive last position. */
  readonly to?: bigint;
}

/** Pages of the log in global order through the EventStore port, one tenant's or everyone's. */
export async function* logPages(store: EventStore, range: LogRange, pageSize = 10_000): AsyncGenerator<RecordedEvent[]> {
  let after = range.from === undefined ? undefined : range.from - 1n;
  for (;;) {
    const page = await store.readAll({ ...(after === undefined ? {} : { after }), maxCount: pageSize, ...(range.tenantId ? { filter: { tenantId: range.tenantId } } : {}) });
    const inRange = range.to === undefined ? page : page.filter((e) => e.position <= range.to!);
    if (inRange.length > 0) yield inRange;
    if (page.length < pageSize || inRange.length < page.length) return;
    after = page[page.length - 1]!.position;
  }
}

/** The largest page of stored events the whole-log reads ask for (readAllStored); readAll pages stay at its limit. */
export const STORED_PAGE = 5_000;
const FIRST_STORED_PAGE = 500;
const READ_ALL_PAGE = 10_000;

/**
 * One turn of the event loop, after asking for the next page and before handing this one over: the
 * driver sends a query a few ticks after it is asked to, and a caller that works through the page
 * synchronously would otherwise hold it back until it is done (the read-ahead then overlapped nothing).
 */
const letReadStart = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Pages of the log in global order in stored form (data and metadata as JSON text), one tenant's or
 * everyone's: what export, verify and backup read. The next page is asked for as soon as a page
 * arrives, so the store reads it while the caller works through this one; pages start small and
 * double up to STORED_PAGE, so that this overlap starts at once even for a tenant of a few thousand
 * events (one page of everything would leave the store idle while the caller works, and the caller
 * idle while the store reads).
 */
export async function* storedPages(store: EventStore, range: LogRange): AsyncGenerator<StoredEvent[]> {
  const readStored = store.readAllStored?.bind(store);
  let pageSize = readStored ? FIRST_STORED_PAGE : READ_ALL_PAGE;
  const read = (after: bigint | undefined, maxCount: number): Promise<StoredEvent[]> => {
    const options: ReadAllOptions = { ...(after === undefined ? {} : { after }), maxCount, ...(range.tenantId ? { filter: { tenantId: range.tenantId } } : {}) };
    return readStored ? readStored(options) : store.readAll(options).then((events) => events.map(toStored));
  };
  let next = read(range.from === undefined ? undefined : range.from - 1n, pageSize);
  try {
    for (;;) {
      const page = await next;
      const inRange = range.to === undefined ? page : page.filter((e) => BigInt(e.position) <= range.to!);
      const more = page.length === pageSize && inRange.length === page.length;
      if (more) {
        if (readStored) pageSize = Math.min(pageSize * 2, STORED_PAGE);
        next = read(BigInt(page[page.length - 1]!.position), pageSize);
        next.catch(() => undefined); // awaited below; a caller that stops early must not leave it unhandled
        await letReadStart();
      }
      if (inRange.length > 0) yield inRange;
      if (!more) return;
    }
  } finally {
    await next.catch(() => undefined);
  }
}

/** Reads of `prev` hashes at once. */
const PREV_READS = 16;

/**
 * The pages of a range that starts mid-log (`from` set), each stream's first event in it past
 * revision 0 given `prev`: the hash of the event before it, read from the stream. A verifier links
 * that event to it, so its content is checked against its hash like any other's. A whole-log range
 * is passed through as it is.
 */
export async function* exportPages(store: EventStore, range: LogRange): AsyncGenerator<ExportedEvent[]> {
  if (range.from === undefined) {
    yield* storedPages(store, range);
    return;
  }
  const seen = new Set<string>();
  for await (const page of storedPages(store, range)) {
    const firsts: number[] = [];
    for (let i = 0; i < page.length; i++) {
      const e = page[i]!;
      if (seen.has(e.streamId)) continue;
      seen.add(e.streamId);
      if (e.revision > 0) firsts.push(i);
    }
    if (firsts.length === 0) {
      yield page;
      continue;
    }
    // one read of one event per stream that starts mid-log, a few at a time (a page may start thousands)
    const prevs: (RecordedEvent | undefined)[] = [];
    for (let k = 0; k < firsts.length; k += PREV_READS)
      prevs.push(...(await Promise.all(firsts.slice(k, k + PREV_READS).map(async (i) => (await store.readStream(page[i]!.streamId, { fromRevision: page[i]!.revision - 1, maxCount: 1 }))[0]))));
    const out: ExportedEvent[] = page.slice();
    firsts.forEach((i, k) => {
      const before = prevs[k];
      if (before?.hash && before.revision === page[i]!.revision - 1) out[i] = { ...page[i]!, prev: before.hash };
    });
    yield out;
  }
}

/** The log as export text (NDJSON with hashes; a range with `from` names each stream's `prev`), a page at a time. */
export async function* exportText(store: EventStore, range: LogRange): AsyncGenerator<string> {
  for await (const page of exportPages(store, range)) yield storedChunk(page);
}

/** Text to a file, waiting whenever the disk is slower than the log is read. */
export const fileWriter = (path: string) => {
  const out = createWriteStream(path, { encoding: 'utf8' });
  return {
    write: async (chunk: string): Promise<void> => {
      if (!out.write(chunk)) await once(out, 'drain');
    },
    close: async (): Promise<void> => {
      out.end();
      await once(out, 'finish');
    },
  };
};
