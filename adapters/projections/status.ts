import type { EventStore } from '../../domain/ports/event-store.ts';
import type { Projection } from '../../projections/shared/projection.ts';
import type { SqlDb } from '../event-store/sql/db.ts';

export interface ProjectionStatus {
  readonly name: string;
  readonly position: string | null;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  readonly updatedAt: string | null;
}

/**
 * Each projection's checkpoint and how far behind the log it is: in events (counted through the
 * store port, so every store answers) and in seconds (the age of the oldest event not yet applied).
 */
export const projectionStatus = async (
  db: SqlDb,
  store: EventStore,
  options: { schema: string; projections: readonly Projection[] },
): Promise<ProjectionStatus[]> => {
  const { rows } = await db.query<{ name: string; position: string | null; updated_at: Date | null }>(
    `SELECT p.name, c.position::text AS position, c.updated_at
       FROM unnest($1::text[]) AS p(name) LEFT JOIN ${options.schema}.checkpoints c ON c.name = p.name
      ORDER BY p.name`,
    [options.projections.map((p) => p.name)],
  );
  const now = Date.now();
  return Promise.all(
    rows.map(async (r) => {
      const after = r.position === null ? undefined : BigInt(r.position);
      const [lagEvents, [oldest]] = await Promise.all([store.countAfter(after), store.readAll({ ...(after === undefined ? {} : { after }), maxCount: 1 })]);
      return {
        name: r.name,
        position: r.position,
        lagEvents,
        lagSeconds: oldest ? Math.max(0, (now - oldest.recordedAt.getTime()) / 1000) : 0,
        updatedAt: r.updated_at ? new Date(r.updated_at).toISOString() : null,
      };
    }),
  );
};
