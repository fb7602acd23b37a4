import type { EventStore } from '../../domain/ports/event-store.ts';
import { indexDdl, tableDdl } from '../../projections/shared/migration.ts';
import type { Projection } from '../../projections/shared/projection.ts';
import type { SqlDb } from '../event-store/sql/db.ts';
import { applyBatch } from './apply-batch.ts';
import { readCheckpoint } from './projector.ts';

const NEXT = '__next';

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
  schema: string;
  projections: readonly Projection[];
  batchSize?: number;
  onProgress?: (progress: RebuildProgress) => void;
}): Promise<{ applied: number; seconds: number }> => {
  const { db, store, schema, projections } = options;
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
  const read = (after: bigint | undefined) => store.readAll({ ...(after !== undefined && after >= 0n ? { after } : {}), maxCount: batchSize });
  // Reads the next page while the current one is applied, and applies each projection in its own
  // transaction (each has its own checkpoint), so the log read and the projections overlap.
  const copy = async (until: bigint | undefined) => {
    let next = read(await readCheckpoint(db, target, projections));
    for (;;) {
      const page = await next;
      if (page.length === 0) return;
      next = read(page.at(-1)!.position);
      await Promise.all(projections.map((p) => db.transaction((t) => applyBatch(t, target, [p], page))));
      applied += page.length;
      options.onProgress?.({ applied, position: page.at(-1)!.position, head: until });
    }
  };
  // Copy until caught up, then swap while holding the live checkpoints (the live projector waits).
  // Events are never read inside that transaction (PGlite has one connection); if the live
  // projector got ahead of the copy meanwhile, let go, copy the rest and try again.
  await copy(await store.headPosition());
  await db.transaction(async (tx) => tx.exec(tables.map((t) => indexDdl(schema, t, NEXT)).join('\n')));
  for (let attempt = 0; ; attempt++) {
    await copy(await store.headPosition());
    const swapped = await db.transaction(async (tx) => {
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
    if (swapped) break;
    if (attempt > 20) throw new Error('rebuild could not catch up with the live projector');
  }
  return { applied, seconds: (performance.now() - started) / 1000 };
};
