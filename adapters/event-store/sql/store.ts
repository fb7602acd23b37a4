import { randomUUID } from 'node:crypto';
import { storeUnavailable } from '../../../domain/ports/event-store.ts';
import type {
  EventFilter,
  EventStore,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoredEvent,
} from '../../../domain/ports/event-store.ts';
import { encodeAppend } from '../validate.ts';
import { createAppendBatcher } from './append-batcher.ts';
import type { SqlDb } from './db.ts';
import { isUnavailableError, sqlLiteral } from './db.ts';
import { migrateOnce } from './migrate.ts';
import { createNotifier } from './notifier.ts';
import { EVENT_COLUMNS, SAFE_STORED_COLUMNS, STORED_COLUMNS, toRecordedEvent, toStoredEvent, toStoredEventFast } from './rows.ts';
import type { EventRow, StoredRow } from './rows.ts';
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
const readAllQuery = (schema: string, filter: EventFilter | undefined, beyond = false, extraColumns = ''): { text: string; params: unknown[] } => {
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
    text: `SELECT ${EVENT_COLUMNS}${extraColumns}${flag} FROM ${schema}.events WHERE ${where.join(' AND ')} ORDER BY position LIMIT $2`,
    params,
  };
};

/**
 * Whole-log reads walk an index in position order, whatever the planner believes: on a table without
 * statistics (autovacuum off, or a log just loaded) it took a bitmap scan of every remaining row and
 * an on-disk sort for each page, which made reading the log quadratic (docs/performance.md).
 */
const ORDERED_SCAN = 'SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off';
/** Stored reads print recording times as timestamptz text in one known form (rows.ts). */
const UTC_TEXT = "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY'";

/**
 * The settings and the SELECT as one message, its values written into the text: one round trip. The
 * statements of one message run as one implicit transaction, so SET LOCAL holds for the SELECT only
 * (and a failure leaves nothing behind on the connection). As a BEGIN … COMMIT of separate statements
 * it took four round trips, and each needed this thread's event loop: a caller working through the page
 * before kept the read of the next one from even starting.
 */
const oneTrip = async <R>(db: SqlDb, select: string): Promise<R[]> => {
  const results = (await db.exec(`${ORDERED_SCAN}; ${UTC_TEXT}; ${select}`)) as { rows: R[] } | { rows: R[] }[];
  return (Array.isArray(results) ? results[results.length - 1]! : results).rows;
};

/** Where-clauses of a stored read, values inline (see oneTrip). */
const inlineWhere = (schema: string, o: { after?: bigint | undefined; filter?: EventFilter | undefined }): string => {
  const list = (values: readonly string[]) => `ARRAY[${values.map(sqlLiteral).join(',')}]::text[]`;
  const where = [`position > ${BigInt(o.after ?? -1n)}`, `position < ${schema}.horizon()`];
  if (o.filter?.tenantId !== undefined) where.push(`tenant_id = ${sqlLiteral(o.filter.tenantId)}`);
  if (o.filter?.categories) where.push(`category = ANY(${list(o.filter.categories)})`);
  if (o.filter?.eventTypes) where.push(`type = ANY(${list(o.filter.eventTypes)})`);
  return where.join(' AND ');
};

const pageLimit = (maxCount: number | undefined): number => Math.floor(Math.min(Math.max(maxCount ?? 1000, 1), 50_000));

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
  const headPosition = async (): Promise<bigint | undefined> => {
    const { rows } = await guard(() =>
      db.query<{ head: string | null }>(`SELECT max(position) AS head FROM ${schema}.events WHERE position < ${schema}.horizon()`),
    );
    const head = rows[0]?.head;
    return head === null || head === undefined ? undefined : BigInt(head);
  };

  /**
   * A subscription's page: the rows after `after` up to the visibility horizon, and whether committed
   * rows wait past it (`pending`: look again soon), learned in the same round trip.
   */
  const readToHorizon = async <R extends EventRow>(after: bigint | undefined, maxCount: number, filter?: EventFilter, extraColumns = '') => {
    const query = readAllQuery(schema, filter, true, extraColumns);
    const { rows } = await guard(() => db.query<R & { beyond: boolean }>(query.text, [String(after ?? -1n), maxCount, ...query.params]));
    const cut = rows.findIndex((row) => row.beyond);
    return cut < 0 ? { rows, full: rows.length >= maxCount, pending: false } : { rows: rows.slice(0, cut), full: false, pending: true };
  };

  const tail = createTail(
    {
      head: headPosition,
      readPage: async (after, maxCount) => {
        const page = await readToHorizon<EventRow & { category: string; tenant_id: string }>(after, maxCount, undefined, ', category, tenant_id');
        const entries = page.rows.map((row) => ({ event: toRecordedEvent(row), category: row.category, tenantId: row.tenant_id }));
        return { entries, full: page.full, pending: page.pending };
      },
      wakeup,
    },
    options.tailCapacity,
  );

  const readAll = async (opts: ReadAllOptions = {}): Promise<RecordedEvent[]> => {
    const query = readAllQuery(schema, opts.filter);
    const limit = Math.min(Math.max(opts.maxCount ?? 1000, 1), 10_000);
    const { rows } = await guard(() =>
      db.query<EventRow>(query.text, [String(opts.after ?? -1n), limit, ...query.params]),
    );
    return rows.map(toRecordedEvent);
  };

  const readAllStored = async (opts: ReadAllOptions = {}): Promise<StoredEvent[]> => {
    const where = inlineWhere(schema, { after: opts.after, filter: opts.filter });
    const select = (columns: string) => `SELECT ${columns} FROM ${schema}.events WHERE ${where} ORDER BY position LIMIT ${pageLimit(opts.maxCount)}`;
    const rows = await guard(() => oneTrip<StoredRow>(db, select(STORED_COLUMNS)));
    const events = new Array<StoredEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const event = toStoredEventFast(rows[i]!);
      if (!event) return (await guard(() => oneTrip<StoredRow>(db, select(SAFE_STORED_COLUMNS)))).map(toStoredEvent);
      events[i] = event;
    }
    return events;
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
    readAllStored,

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
          const { rows, full, pending } = await readToHorizon(after, maxCount, opts.filter);
          const passed = !full && !pending && covered !== undefined;
          return { events: rows.map(toRecordedEvent), full, pending, ...(passed ? { scannedTo: covered } : {}) };
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
