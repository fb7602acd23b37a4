import pg from 'pg';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { sqlState } from './sql/db.ts';
import type { Querier, SqlDb } from './sql/db.ts';
import { createSqlEventStore } from './sql/store.ts';

// int8 as string, parsed to bigint/number by the rows decoder.
export interface PostgresEventStoreOptions {
  readonly connectionString: string;
  readonly schema?: string;
  readonly poolSize?: number;
  /**
   * Append batches in flight at once. Few and large beats many and small: on 2 cores, 2 batches
   * gave 6,100 appends/s against 2,600 with 8 (bench store-append).
   */
  readonly appendConcurrency?: number;
  readonly beforeCommit?: () => Promise<void>;
  /** Benchmark hook (see SqlEventStoreOptions). */
  readonly unchained?: boolean;
  /** Events the shared tail keeps in memory (see SqlEventStoreOptions). */
  readonly tailCapacity?: number;
}

/** Distinct statement texts given a name; past this, new texts run unnamed (our statements are a fixed set). */
const MAX_PREPARED = 500;

/**
 * Statements with parameters run as named prepared statements: each connection parses and plans a
 * statement once instead of on every call. PostgreSQL re-analyses a prepared statement after DDL
 * on the tables it reads (a rebuild's swap), so names keep resolving to the live tables — but when
 * the swap changed the columns a statement returns, the old statement fails with "cached plan must
 * not change result type": the text then gets a new name (every connection prepares it afresh)
 * and the call is retried once. (Behind PgBouncer in transaction mode, use 1.21+ with
 * max_prepared_statements.)
 */
const preparedNames = () => {
  const names = new Map<string, string>();
  let next = 0;
  return {
    config(text: string, values: unknown[] | undefined): pg.QueryConfig | string {
      if (!values || values.length === 0) return text;
      let name = names.get(text);
      if (name === undefined && names.size < MAX_PREPARED) names.set(text, (name = `ocs_${next++}`));
      return name === undefined ? { text, values } : { name, text, values };
    },
    forget: (text: string) => void names.delete(text),
  };
};

const isStalePlan = (error: unknown): boolean =>
  sqlState(error) === '0A000' && /cached plan must not change result type/.test((error as Error).message);

/** A pg Pool as the shared SQL store's database, plus one dedicated LISTEN connection. */
export const pgPoolDb = (connectionString: string, poolSize: number, appendConcurrency = 2, applicationName?: string): SqlDb => {
  const named = applicationName ? { application_name: applicationName.slice(0, 63) } : {};
  const pool = new pg.Pool({ connectionString, max: poolSize, connectionTimeoutMillis: 5_000, ...named });
  pool.on('error', () => undefined); // an idle client lost its connection; the pool replaces it
  const statements = preparedNames();
  const run = async (on: pg.Pool | pg.PoolClient, text: string, params: unknown[] | undefined) => {
    const config = statements.config(text, params);
    try {
      return (await (typeof config === 'string' ? on.query(config) : on.query(config))) as never;
    } catch (error) {
      if (isStalePlan(error)) statements.forget(text);
      throw error;
    }
  };
  /**
   * BEGIN (and the prelude, one simple-protocol message: one round trip) … fn … COMMIT; ROLLBACK if
   * anything throws. `readOnly`: BEGIN READ ONLY, and the COMMIT is queued on the connection as it goes
   * back to the pool instead of waited for (SqlDb.readTransaction).
   */
  const inTransaction = async <T>(fn: (tx: Querier) => Promise<T>, options: { beforeCommit?: (() => Promise<void>) | undefined; prelude?: string | undefined; readOnly?: boolean }): Promise<T> => {
    const client = await pool.connect();
    // pg-pool drops its own 'error' listener while a client is checked out: a connection lost mid-
    // transaction would be an uncaught exception (the process ends). The failing query reports it.
    const lost = () => undefined;
    client.on('error', lost);
    const release = (broken?: boolean) => {
      client.off('error', lost);
      client.release(broken);
    };
    let result: T;
    try {
      const begin = options.readOnly ? 'BEGIN READ ONLY' : 'BEGIN';
      await client.query(options.prelude ? `${begin}; ${options.prelude}` : begin);
      result = await fn({ query: (t, p) => run(client, t, p), exec: (t) => client.query(t) } as Querier);
      if (options.beforeCommit) await options.beforeCommit();
      if (!options.readOnly) await client.query('COMMIT');
    } catch (error) {
      let broken = false;
      await client.query('ROLLBACK').catch(() => (broken = true));
      release(broken);
      throw error;
    }
    // queued ahead of anything the connection's next user sends; a failure means the connection is gone
    if (options.readOnly) void client.query('COMMIT').catch(() => undefined);
    release();
    return result;
  };
  /** Once more after a stale prepared statement (it was renamed): the first try changed nothing. */
  const retryStale = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (!isStalePlan(error)) throw error;
      return work();
    }
  };
  return {
    maxConcurrentBatches: Math.max(1, Math.min(appendConcurrency, poolSize)),
    query: (text, params) => retryStale(() => run(pool, text, params)),
    exec: (text) => pool.query(text),
    transaction: (fn, beforeCommit, prelude) => retryStale(() => inTransaction(fn, { beforeCommit, prelude })),
    readTransaction: (fn, prelude) => retryStale(() => inTransaction(fn, { prelude, readOnly: true })),
    async listen(channel, onNotify) {
      let client: pg.Client | undefined;
      let stopped = false;
      let retry: NodeJS.Timeout | undefined;
      const connect = async (): Promise<void> => {
        const next = new pg.Client({ connectionString, ...named });
        next.on('notification', (message) => onNotify(message.payload));
        next.on('error', () => {
          if (stopped) return;
          client = undefined;
          next.end().catch(() => undefined);
          retry = setTimeout(reconnect, 200);
        });
        await next.connect();
        await next.query(`LISTEN "${channel}"`);
        // closed while this connection was being made: close() could not end it
        if (stopped) return void (await next.end().catch(() => undefined));
        client = next;
        onNotify(); // anything committed while we were not listening
      };
      const reconnect = () => {
        if (stopped) return;
        connect().catch(() => {
          retry = setTimeout(reconnect, 500);
        });
      };
      await connect();
      return {
        async close() {
          stopped = true;
          if (retry) clearTimeout(retry);
          await client?.end().catch(() => undefined);
        },
      };
    },
    close: () => pool.end(),
  };
};

export const createPostgresEventStore = (options: PostgresEventStoreOptions): Promise<EventStore> =>
  createSqlEventStore(pgPoolDb(options.connectionString, options.poolSize ?? 8, options.appendConcurrency), {
    ...(options.schema ? { schema: options.schema } : {}),
    ...(options.beforeCommit ? { beforeCommit: options.beforeCommit } : {}),
    ...(options.unchained ? { unchained: true } : {}),
    ...(options.tailCapacity ? { tailCapacity: options.tailCapacity } : {}),
  });
