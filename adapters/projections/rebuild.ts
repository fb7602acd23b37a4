import type { Decoded } from '../../domain/events.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { indexDdl, tableDdl } from '../../projections/shared/migration.ts';
import type { Projection } from '../../projections/shared/projection.ts';
import { sqlState } from '../event-store/sql/db.ts';
import type { SqlDb } from '../event-store/sql/db.ts';
import { createWakeup } from '../event-store/sql/wakeup.ts';
import { applyBatch } from './apply-batch.ts';
import { readCheckpoint } from './projector.ts';

const NEXT = '__next';
/** Pages read past the slowest projection (so at most READ_AHEAD + 1 pages of `batchSize` events in memory). */
const READ_AHEAD = 4;
/** PostgreSQL ended a transaction of a deadlock (the swap's, see below). */
const DEADLOCK_DETECTED = '40P01';

export interface RebuildProgress {
  readonly applied: number;
  readonly position: bigint | undefined;
  readonly head: bigint | undefined;
}

/**
 * Rebuilds projections beside the live tables: fills `<table>__next` from the start of the log
 * while the API keeps reading the live tables, then, in one transaction that holds the live
 * checkpoints (so the live projector pauses), applies the last events and swaps the tables.
 */
export const rebuildProjections = async (options: {
  db: SqlDb;
  store: EventStore;
  codec: EventCodec;
  schema: string;
  projections: readonly Projection[];
  batchSize?: number;
  onProgress?: (progress: RebuildProgress) => void;
}): Promise<{ applied: number; seconds: number }> => {
  const { db, store, codec, schema, projections } = options;
  const batchSize = options.batchSize ?? 5_000;
  const started = performance.now();
  const target = { schema, suffix: NEXT };
  const tables = projections.flatMap((p) => p.tables);
  await db.transaction(async (tx) => {
    for (const t of tables) await tx.exec(`DROP TABLE IF EXISTS ${schema}.${t.name}${NEXT};`);
    await tx.exec(tables.map((t) => tableDdl(schema, t, NEXT, { indexes: false })).join('\n'));
    await tx.query(`DELETE FROM ${schema}.checkpoints WHERE name = ANY($1::text[])`, [projections.map((p) => `${p.name}${NEXT}`)]);
  });
  let applied = 0;
  const live = { schema, suffix: '' };
  // Each page is decoded once for every projection; an undecodable event fails the rebuild.
  const read = async (after: bigint | undefined) =>
    codec.decode(await store.readAll({ ...(after !== undefined && after >= 0n ? { after } : {}), maxCount: batchSize }), 'stored');
  // Each projection works through the pages on its own (own transaction and checkpoint per page),
  // so a fast one never waits for the slowest; the log is read once, at most READ_AHEAD pages past
  // the slowest projection, and a page is dropped once every projection has applied it. The first
  // failure stops every projection at its next page; the rebuild then fails with that error, after
  // all of them have stopped (a rerun starts over: the `__next` tables are made anew).
  const copy = async (until: bigint | undefined) => {
    const start = await readCheckpoint(db, target, projections);
    const pages = new Map<number, Promise<readonly Decoded[]>>();
    let requested = -1;
    const pageAt = (i: number): Promise<readonly Decoded[]> => {
      while (requested < i) {
        const previous = pages.get(requested);
        requested += 1;
        const page = previous === undefined ? read(start) : previous.then((p) => (p.length === 0 ? p : read(p.at(-1)!.position)));
        page.catch(() => undefined); // read ahead: whoever needs the page gets the error
        pages.set(requested, page);
      }
      return pages.get(i)!;
    };
    const done = projections.map(() => 0); // pages applied, per projection
    const sizes: number[] = [];
    const lasts: bigint[] = [];
    const progressed = createWakeup();
    let failed = false;
    let reported = 0;
    const slowest = () => Math.min(...done);
    const finished = (index: number, i: number, page: readonly Decoded[]) => {
      sizes[i] = page.length;
      lasts[i] = page.at(-1)!.position;
      done[index] = i + 1;
      for (; reported < slowest(); reported++) {
        pages.delete(reported);
        applied += sizes[reported]!;
        options.onProgress?.({ applied, position: lasts[reported], head: until });
      }
      progressed.notify();
    };
    const outcomes = await Promise.allSettled(
      projections.map(async (projection, index) => {
        try {
          for (let i = 0; ; i++) {
            for (let seen = progressed.generation; !failed && i - slowest() >= READ_AHEAD; seen = progressed.generation)
              await progressed.wait(seen, 1_000);
            if (failed) return;
            const page = await pageAt(i);
            void pageAt(slowest() + READ_AHEAD);
            if (page.length === 0) return;
            await db.transaction((t) => applyBatch(t, target, [projection], page, { insertNewRows: true }));
            finished(index, i, page);
          }
        } catch (error) {
          failed = true;
          progressed.notify();
          throw error;
        }
      }),
    );
    pages.clear();
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;
  };
  // Copy until caught up, then swap while holding the live checkpoints (the live projector waits).
  // Events are never read inside that transaction (PGlite has one connection); if the live
  // projector got ahead of the copy meanwhile, let go, copy the rest and try again.
  await copy(await store.headPosition());
  await db.transaction(async (tx) => tx.exec(tables.map((t) => indexDdl(schema, t, NEXT)).join('\n')));
  for (let attempt = 0; ; attempt++) {
    await copy(await store.headPosition());
    const swapping = db.transaction(async (tx) => {
      await tx.query(`SELECT name FROM ${schema}.checkpoints WHERE name = ANY($1::text[]) FOR UPDATE`, [projections.map((p) => p.name)]);
      const built = (await readCheckpoint(tx, target, projections)) ?? -1n;
      const serving = (await readCheckpoint(tx, live, projections)) ?? -1n;
      if (built < serving) return false;
      await tx.exec('SET LOCAL ROLE NONE'); // DDL as the session user, who owns (or is a member of the owner of) the tables
      for (const t of tables) {
        const indexes = (t.indexes ?? []).map((_, i) => i);
        await tx.exec(`
          DROP TABLE ${schema}.${t.name};
          ALTER TABLE ${schema}.${t.name}${NEXT} RENAME TO ${t.name};
          ALTER INDEX ${schema}.${t.name}${NEXT}_pkey RENAME TO ${t.name}_pkey;
          ${indexes.map((i) => `ALTER INDEX ${schema}.${t.name}${NEXT}_i${i} RENAME TO ${t.name}_i${i};`).join('\n')}`);
      }
      await tx.query(
        `INSERT INTO ${schema}.checkpoints (name, position)
         SELECT p.name, $2 FROM unnest($1::text[]) AS p(name)
         ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
        [projections.map((p) => p.name), String(built)],
      );
      await tx.query(`DELETE FROM ${schema}.checkpoints WHERE name = ANY($1::text[])`, [projections.map((p) => `${p.name}${NEXT}`)]);
      return true;
    });
    // The swap drops and renames the tables one after another while the API reads them (a read that holds
    // one table and waits for another it already took): PostgreSQL ends one side of such a deadlock, and when
    // it is the swap, its transaction rolled back whole, so it is tried again like a swap the projector outran.
    const swapped = await swapping.catch((error: unknown) => {
      if (sqlState(error) === DEADLOCK_DETECTED) return false;
      throw error;
    });
    if (swapped) break;
    if (attempt > 20) throw new Error('rebuild could not catch up with the live projector');
  }
  return { applied, seconds: (performance.now() - started) / 1000 };
};
