import type { Projection } from '../../projections/shared/projection.ts';
import type { SqlDb } from '../event-store/sql/db.ts';

export interface ProjectionStatus {
  readonly name: string;
  readonly position: string | null;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  readonly updatedAt: string | null;
}

/** Each projection's checkpoint and how far behind the log it is, in events and in seconds. */
export const projectionStatus = async (
  db: SqlDb,
  options: { schema: string; eventSchema: string; projections: readonly Projection[] },
): Promise<ProjectionStatus[]> => {
  const { rows } = await db.query<{ name: string; position: string | null; updated_at: Date | null; lag_events: number; oldest: Date | null }>(
    `SELECT p.name, c.position::text AS position, c.updated_at,
            (SELECT count(*)::int FROM ${options.eventSchema}.events e
              WHERE e.position > coalesce(c.position, -1) AND e.position < ${options.eventSchema}.horizon()) AS lag_events,
            (SELECT min(e.recorded_at) FROM ${options.eventSchema}.events e
              WHERE e.position > coalesce(c.position, -1) AND e.position < ${options.eventSchema}.horizon()) AS oldest
       FROM unnest($1::text[]) AS p(name)
       LEFT JOIN ${options.schema}.checkpoints c ON c.name = p.name
      ORDER BY p.name`,
    [options.projections.map((p) => p.name)],
  );
  return rows.map((r) => ({
    name: r.name,
    position: r.position,
    lagEvents: r.lag_events,
    lagSeconds: r.oldest ? Math.max(0, (Date.now() - new Date(r.oldest).getTime()) / 1000) : 0,
    updatedAt: r.updated_at ? new Date(r.updated_at).toISOString() : null,
  }));
};
