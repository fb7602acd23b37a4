import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { EventMetadata, EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { AppError } from '../../domain/shared/errors.ts';

/**
 * One event per line (NDJSON), the format of `GET /audit/events`, `audit export` and backups:
 * {"position":"…","streamId":"…","revision":n,"id":"…","type":"Type.vN","data":…,"metadata":…,"recordedAt":"ISO","hash":"hex"}
 * Data is as stored: sealed fields stay ciphertext, so a line verifies without any key.
 */
export const eventLine = (e: RecordedEvent): string =>
  `{"position":"${e.position}","streamId":${JSON.stringify(e.streamId)},"revision":${e.revision},"id":"${e.id}","type":${JSON.stringify(e.type)},` +
  `"data":${JSON.stringify(e.data)},"metadata":${JSON.stringify(e.metadata)},"recordedAt":"${e.recordedAt.toISOString()}"${e.hash ? `,"hash":"${e.hash}"` : ''}}\n`;

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

export const toEvent = (json: unknown, line: number): RecordedEvent => {
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
