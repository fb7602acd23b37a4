import {
  idempotencyMismatch,
  invalidAppend,
  storeUnavailable,
  wrongExpectedRevision,
} from '../../../domain/ports/event-store.ts';
import type { AppendResult, ExpectedRevision } from '../../../domain/ports/event-store.ts';
import type { EncodedEvent } from '../validate.ts';
import type { SqlDb } from './db.ts';
import { isUnavailableError, sqlState } from './db.ts';

export interface PendingAppend {
  readonly streamId: string;
  readonly expected: ExpectedRevision;
  readonly tenantId: string;
  readonly category: string;
  readonly events: readonly EncodedEvent[];
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
  attempts: number;
}

interface BatchRow {
  idx: number;
  status: 'ok' | 'duplicate' | 'conflict' | 'idempotency_mismatch';
  revision: string | number | bigint;
  pos: string | number | bigint | null;
}

const MAX_BATCH_EVENTS = 4_000;
const MAX_BATCH_APPENDS = 256;
// A unique violation (two appends racing with one event id) or a deadlock fails the whole
// statement: retried alone, such an append usually succeeds or gets its proper answer.
const RETRY_ALONE = new Set(['23505', '40P01', '40001']);

const encode = (p: PendingAppend): string =>
  `{"s":${JSON.stringify(p.streamId)},"x":${JSON.stringify(p.expected)},"t":${JSON.stringify(p.tenantId)},` +
  `"c":${JSON.stringify(p.category)},"e":[${p.events
    .map((e) => `{"id":"${e.id}","ty":${JSON.stringify(e.type)},"d":${e.data},"m":${e.metadata}${e.contentHash ? `,"h":"${e.contentHash}"` : ''}${e.recordedAt ? `,"r":"${e.recordedAt}"` : ''}}`)
    .join(',')}]}`;

/**
 * Group commit: appends that arrive while earlier batches are in flight are gathered into the next
 * batch and written by one function call in one transaction. Each append's expected revision is
 * still checked on its own; at most one append per stream goes into a batch.
 */
export const createAppendBatcher = (
  db: SqlDb,
  schema: string,
  hooks: { beforeCommit?: () => Promise<void>; afterCommit?: () => void } = {},
) => {
  const queue: PendingAppend[] = [];
  const running = new Set<Promise<void>>();
  let inFlight = 0;
  const sql = `SELECT idx, status, revision, pos FROM ${schema}.append_batch($1::jsonb)`;

  const take = (): PendingAppend[] => {
    const batch: PendingAppend[] = [];
    const streams = new Set<string>();
    let events = 0;
    for (let i = 0; i < queue.length && batch.length < MAX_BATCH_APPENDS; ) {
      const p = queue[i]!;
      if (streams.has(p.streamId) || (batch.length > 0 && events + p.events.length > MAX_BATCH_EVENTS)) {
        i++;
        continue;
      }
      streams.add(p.streamId);
      events += p.events.length;
      batch.push(p);
      queue.splice(i, 1);
    }
    return batch;
  };

  const settle = (batch: PendingAppend[], rows: BatchRow[]) => {
    for (const row of rows) {
      const p = batch[row.idx]!;
      const revision = Number(row.revision);
      switch (row.status) {
        case 'ok':
        case 'duplicate':
          p.resolve({ nextRevision: revision, position: BigInt(row.pos!), duplicate: row.status === 'duplicate' });
          break;
        case 'conflict':
          p.reject(wrongExpectedRevision(p.streamId, p.expected, revision < 0 ? 'no_stream' : revision));
          break;
        case 'idempotency_mismatch':
          p.reject(idempotencyMismatch(p.streamId));
          break;
      }
    }
  };

  const run = async (batch: PendingAppend[]): Promise<void> => {
    const payload = `[${batch.map(encode).join(',')}]`;
    try {
      const rows = hooks.beforeCommit
        ? await db.transaction(async (tx) => (await tx.query<BatchRow>(sql, [payload])).rows, hooks.beforeCommit)
        : (await db.query<BatchRow>(sql, [payload])).rows;
      if (rows.some((r) => r.status === 'ok')) hooks.afterCommit?.();
      settle(batch, rows);
    } catch (error) {
      const state = sqlState(error);
      const unavailable = isUnavailableError(error);
      // Whatever one append did wrong must not fail the others gathered with it: split the batch.
      if (!unavailable && (batch.length > 1 || (state && RETRY_ALONE.has(state) && batch[0]!.attempts < 3))) {
        for (const p of batch) p.attempts++;
        await Promise.all(batch.map((p) => run([p])));
        return;
      }
      const mapped = unavailable
        ? storeUnavailable(`event store unavailable; the append may or may not have been written — retry with the same event ids (${(error as Error).message})`)
        : state?.startsWith('22')
          ? invalidAppend(`the database refused the event data: ${(error as Error).message}`)
          : error;
      for (const p of batch) p.reject(mapped);
    }
  };

  const pump = () => {
    while (inFlight < db.maxConcurrentBatches && queue.length > 0) {
      const batch = take();
      if (batch.length === 0) return;
      inFlight++;
      const done: Promise<void> = run(batch).finally(() => {
        inFlight--;
        running.delete(done);
        pump();
      });
      running.add(done);
    }
  };

  return {
    /** Refuses what has not started and waits for the batches already running to commit or fail. */
    async drain(reason: () => unknown): Promise<void> {
      for (const p of queue.splice(0)) p.reject(reason());
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    submit(p: Omit<PendingAppend, 'resolve' | 'reject' | 'attempts'>): Promise<AppendResult> {
      return new Promise<AppendResult>((resolve, reject) => {
        queue.push({ ...p, resolve, reject, attempts: 0 });
        pump();
      });
    },
  };
};
