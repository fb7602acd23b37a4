import { randomUUID } from 'node:crypto';
import { storeUnavailable } from '../../../domain/ports/event-store.ts';
import type {
  EventFilter,
  EventStore,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
} from '../../../domain/ports/event-store.ts';
import { encodeAppend } from '../validate.ts';
import { createAppendBatcher } from './append-batcher.ts';
import type { SqlDb } from './db.ts';
import { isUnavailableError } from './db.ts';
import { migrateOnce } from './migrate.ts';
import { createNotifier } from './notifier.ts';
import { EVENT_COLUMNS, toRecordedEvent } from './rows.ts';
import type { EventRow } from './rows.ts';
import { checkSchemaName, eventLogMigration } from './schema.ts';
import { createSubscription } from './subscription.ts';
import { createTail } from './tail.ts';
import { createWakeup } from './wakeup.ts';

export interface SqlEventStoreOptions {
  readonly schema?: string;
  /** Test hook: runs inside each append transaction just before COMMIT. */
  readonly beforeCommit?: () => Promise<void>;
  /** Benchmark hook: append without the hash chain (bench store-append measures what the chain costs). Never in production. */
  readonly unchained?: boolean;
  /** Events the shared tail keeps in memory for this process's subscriptions (default 10,000; tail.ts). */
  readonly tailCapacity?: number;
}

const guard = async <T>(work: () => Promise<T>): Promise<T> => {
  try {
    return await work();
  } catch (error) {
    if (isUnavailableError(error)) throw storeUnavailable(`event store unavailable: ${(error as Error).message}`);
    throw error;
  }
};

export const migrateEventLog = (db: SqlDb, schema: string): Promise<void> =>
  migrateOnce(db, schema, `event-log:${schema}`, eventLogMigration(schema));

/**
 * Builds the read-all query for a filter; `$1` is the exclusive start position, `$2` the limit.
 * `beyond`: also return committed rows past the visibility horizon, flagged, so a subscription
 * learns in the same round trip that it must look again soon (see subscription.ts).
 */
const readAllQuery = (schema: string, filter: EventFilter | undefined, beyond = false): { text: string; params: unknown[] } => {
  const where = [`position > $1`];
  if (!beyond) where.push(`position < ${schema}.horizon()`);
  const params: unknown[] = [];
  if (filter?.tenantId !== undefined) {
    params.push(filter.tenantId);
    where.push(`tenant_id = $${params.length + 2}`);
  }
  if (filter?.categories) {
    params.push(filter.categories);
    where.push(`category = ANY($${params.length + 2}::text[])`);
  }
  if (filter?.eventTypes) {
    params.push(filter.eventTypes);
    where.push(`type = ANY($${params.length + 2}::text[])`);
  }
  const flag = beyond ? `, position >= (SELECT ${schema}.horizon()) AS beyond` : '';
  return {
    text: `SELECT ${EVENT_COLUMNS}${flag} FROM ${schema}.events WHERE ${where.join(' AND ')} ORDER BY position LIMIT $2`,
    params,
  };
};

export const createSqlEventStore = async (db: SqlDb, options: SqlEventStoreOptions = {}): Promise<EventStore> => {
  const schema = checkSchemaName(options.schema ?? 'eventlog');
  await guard(() => migrateEventLog(db, schema));
  let closed = false;
  const wakeup = createWakeup();
  const channel = `${schema}_appended`;
  // After a commit: wake this process's subscribers at once, and tell other processes with one
  // coalesced NOTIFY of its own. The NOTIFY carries this store's id, so its own echo (which the
  // subscribers were already woken for) does not make every one of them read the log again.
  const self = randomUUID();
  const others = createNotifier(db, channel, () => self);
  const afterCommit = () => {
    wakeup.notify();
    others.notify();
  };
  const batcher = createAppendBatcher(db, schema, { afterCommit, ...(options.beforeCommit ? { beforeCommit: options.beforeCommit } : {}) });
  const listener = await guard(() => db.listen(channel, (payload) => payload !== self && wakeup.notify()));
  const subscriptions = new Set<{ close(): Promise<void> }>();
  const tail = createTail({
    head: () => headPosition(),
    readPage: async (after, maxCount) => {
      const { rows } = await guard(() =>
        db.query<EventRow & { beyond: boolean; category: string; tenant_id: string }>(
          `SELECT ${EVENT_COLUMNS}, category, tenant_id, position >= (SELECT ${schema}.horizon()) AS beyond FROM ${schema}.events WHERE position > $1 ORDER BY position LIMIT $2`,
          [String(after ?? -1n), maxCount],
        ),
      );
      const visible = rows.findIndex((row) => row.beyond);
      const shown = visible < 0 ? rows : rows.slice(0, visible);
      return {
        entries: shown.map((row) => ({ event: toRecordedEvent(row), category: row.category, tenantId: row.tenant_id })),
        full: visible < 0 && rows.length >= maxCount,
        pending: visible >= 0,
      };
    },
    wakeup,
  }, options.tailCapacity);

  const headPosition = async (): Promise<bigint | undefined> => {
    const { rows } = await guard(() =>
      db.query<{ head: string | null }>(`SELECT max(position) AS head FROM ${schema}.events WHERE position < ${schema}.horizon()`),
    );
    const head = rows[0]?.head;
    return head === null || head === undefined ? undefined : BigInt(head);
  };

  const readAll = async (opts: ReadAllOptions = {}): Promise<RecordedEvent[]> => {
    const query = readAllQuery(schema, opts.filter);
    const limit = Math.min(Math.max(opts.maxCount ?? 1000, 1), 10_000);
    const { rows } = await guard(() =>
      db.query<EventRow>(query.text, [String(opts.after ?? -1n), limit, ...query.params]),
    );
    return rows.map(toRecordedEvent);
  };

  return {
    append(streamId: string, events: readonly NewEvent[], expected) {
      if (closed) return Promise.reject(storeUnavailable('event store is closed'));
      try {
        const checked = encodeAppend(streamId, events, expected, { hash: options.unchained !== true });
        return batcher.submit({ streamId, ...checked });
      } catch (error) {
        return Promise.reject(error);
      }
    },

    async readStream(streamId: string, opts: ReadStreamOptions = {}) {
      const from = opts.fromRevision ?? 0;
      const limit = opts.maxCount ?? 1_000_000;
      const { rows } = await guard(() =>
        db.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM ${schema}.events WHERE stream_id = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
          [streamId, from, limit],
        ),
      );
      return rows.map(toRecordedEvent);
    },

    readAll,

    subscribe(opts, handler) {
      const acquired = tail.acquire();
      acquired.catch(() => undefined);
      const subscription = createSubscription({
        after: opts.after,
        batchSize: opts.batchSize ?? 500,
        readPage: async (after, maxCount) => {
          await acquired;
          const fromMemory = tail.pageFor(after, opts.filter, maxCount);
          if (fromMemory) return fromMemory;
          // Behind the tail: read the log. Everything the tail covers was visible before this read
          // began, so a page that reached the horizon has passed it.
          const covered = tail.coveredFrom();
          const query = readAllQuery(schema, opts.filter, true);
          const { rows } = await guard(() => db.query<EventRow & { beyond: boolean }>(query.text, [String(after ?? -1n), maxCount, ...query.params]));
          const visible = rows.findIndex((row) => row.beyond);
          if (visible >= 0) return { events: rows.slice(0, visible).map(toRecordedEvent), full: false, pending: true };
          const full = rows.length >= maxCount;
          return { events: rows.map(toRecordedEvent), full, pending: false, ...(!full && covered !== undefined ? { scannedTo: covered } : {}) };
        },
        wakeup: tail.wakeup,
        handler,
      });
      subscriptions.add(subscription);
      void subscription.done
        .catch(() => undefined)
        .finally(() => {
          subscriptions.delete(subscription);
          void acquired.then(() => tail.release()).catch(() => undefined);
        });
      return subscription;
    },

    headPosition,

    async countAfter(after, opts = {}) {
      const limit = opts.limit === undefined ? null : Math.max(0, Math.floor(opts.limit));
      const { rows } = await guard(() =>
        db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${schema}.events WHERE position > $1 AND position < ${schema}.horizon() LIMIT $2) s`,
          [String(after ?? -1n), limit],
        ),
      );
      return rows[0]?.n ?? 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      // Nothing may still be writing when the database closes: an append acknowledged after the
      // database went away would be lost (PGlite runs a query queued behind close() on nothing).
      await batcher.drain(() => storeUnavailable('event store is closing'));
      await others.drain();
      await Promise.all([...subscriptions].map((s) => s.close()));
      await tail.close();
      await listener.close().catch(() => undefined);
      wakeup.notify();
      await db.close();
    },
  };
};
