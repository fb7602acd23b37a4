import type { PGlite } from '@electric-sql/pglite';
import type { SqlDb } from './sql/db.ts';

/**
 * PGlite runs PostgreSQL in this process: one backend, so one batch in flight at a time and
 * group commit does the rest. The same SQL as the PostgreSQL adapter runs unchanged.
 */
export const pgliteDb = (pg: PGlite, options: { ownsInstance: boolean }): SqlDb => {
  const transaction: SqlDb['transaction'] = (fn, beforeCommit, prelude) =>
    pg.transaction(async (tx) => {
      if (prelude) await tx.exec(prelude);
      const result = await fn({ query: (t, p) => tx.query(t, p), exec: (t) => tx.exec(t) });
      if (beforeCommit) await beforeCommit();
      return result;
    });
  return {
    maxConcurrentBatches: 1,
    query: async (text, params) => pg.query(text, params),
    exec: (text) => pg.exec(text),
    transaction,
    // in-process: no round trip to save, so an ordinary transaction
    readTransaction: (fn, prelude) => transaction(fn, undefined, prelude),
    async listen(channel, onNotify) {
      const unlisten = await pg.listen(channel, (payload) => onNotify(payload));
      return { close: () => unlisten() };
    },
    close: async () => {
      if (options.ownsInstance && !pg.closed) await pg.close();
    },
  };
};
