import type { Querier } from '../event-store/sql/db.ts';
import { checkSchemaName, ddlUnderSchemaLock } from '../event-store/sql/schema.ts';

/**
 * The saga's durable timers: one row per job (a knight or a tenant's agent VM) that needs
 * attention, due now or at a time a decision asked for. A row survives restarts, so waits and
 * deadlines do too. `wakes` counts events that arrived for the job; a step that started before
 * the latest wake leaves the row due at once instead of settling it, so no event is slept through.
 * A running step holds a lease; a process that restarts under the same instance id takes its own
 * leases back at once, others' expire.
 */
export interface ClaimedJob {
  readonly streamId: string;
  readonly wakes: number;
  readonly attempts: number;
}

export const createJobsTable = async (db: Querier, schema: string, instanceId: string) => {
  const s = checkSchemaName(schema);
  const table = `${s}.provisioning_jobs`;
  await db.exec(ddlUnderSchemaLock(s, `
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${table} (
      stream_id text PRIMARY KEY,
      due_at timestamptz NOT NULL,
      wakes bigint NOT NULL DEFAULT 0,
      attempts integer NOT NULL DEFAULT 0,
      leased_by text,
      leased_until timestamptz,
      why text
    );
    CREATE INDEX IF NOT EXISTS provisioning_jobs_due ON ${table} (due_at);`));
  const at = (ms: number) => new Date(ms).toISOString();
  return {
    /** Makes the jobs due now (creating their rows): new events arrived for them. */
    async wake(streamIds: readonly string[]): Promise<void> {
      if (streamIds.length === 0) return;
      await db.query(
        `INSERT INTO ${table} (stream_id, due_at, wakes) SELECT id, now(), 1 FROM unnest($1::text[]) AS id
         ON CONFLICT (stream_id) DO UPDATE SET due_at = least(${table}.due_at, now()), wakes = ${table}.wakes + 1, attempts = 0`,
        [[...new Set(streamIds)]],
      );
    },
    /** Up to `limit` due jobs no one is working on, leased to this instance for `leaseMs`. */
    async claimDue(limit: number, leaseMs: number): Promise<ClaimedJob[]> {
      if (limit <= 0) return [];
      const { rows } = await db.query<{ stream_id: string; wakes: string; attempts: number }>(
        `UPDATE ${table} j SET leased_by = $2, leased_until = now() + make_interval(secs => $3::float8 / 1000)
         WHERE j.stream_id IN (
           SELECT stream_id FROM ${table} WHERE due_at <= now() AND (leased_until IS NULL OR leased_until < now())
           ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING j.stream_id, j.wakes, j.attempts`,
        [limit, instanceId, leaseMs],
      );
      return rows.map((r) => ({ streamId: r.stream_id, wakes: Number(r.wakes), attempts: r.attempts }));
    },
    /** Extends this instance's lease on a job whose step is still running (false: the lease is not ours any more). */
    async renew(streamId: string, leaseMs: number): Promise<boolean> {
      const { rows } = await db.query(
        `UPDATE ${table} SET leased_until = now() + make_interval(secs => $3::float8 / 1000) WHERE stream_id = $1 AND leased_by = $2 RETURNING stream_id`,
        [streamId, instanceId, leaseMs],
      );
      return rows.length > 0;
    },
    /** The step ended waiting: due at `dueAtMs`, or at once if it was woken meanwhile. */
    async reschedule(job: ClaimedJob, dueAtMs: number, attempts: number, why: string): Promise<void> {
      await db.query(
        `UPDATE ${table} SET due_at = CASE WHEN wakes = $2 THEN $3::timestamptz ELSE now() END,
           attempts = CASE WHEN wakes = $2 THEN $4 ELSE 0 END, leased_by = NULL, leased_until = NULL, why = $5
         WHERE stream_id = $1`,
        [job.streamId, job.wakes, at(dueAtMs), attempts, why.slice(0, 300)],
      );
    },
    /** The step ended with nothing left to do: the row goes, unless an event arrived meanwhile. */
    async finish(job: ClaimedJob): Promise<void> {
      const { rows } = await db.query(`DELETE FROM ${table} WHERE stream_id = $1 AND wakes = $2 RETURNING stream_id`, [job.streamId, job.wakes]);
      if (rows.length === 0) await db.query(`UPDATE ${table} SET leased_by = NULL, leased_until = NULL, due_at = now() WHERE stream_id = $1`, [job.streamId]);
    },
    /** Leases this instance held before it restarted: nobody is working on those any more. */
    async releaseOwn(): Promise<void> {
      await db.query(`UPDATE ${table} SET leased_by = NULL, leased_until = NULL WHERE leased_by = $1`, [instanceId]);
    },
    /** Milliseconds until the next job comes due (capped), for the scheduler's sleep. */
    async msUntilNext(cap: number): Promise<number> {
      const { rows } = await db.query<{ ms: number | null }>(
        `SELECT (extract(epoch FROM min(greatest(due_at, coalesce(leased_until, due_at))) - now()) * 1000)::float8 AS ms FROM ${table}`,
      );
      const ms = rows[0]?.ms;
      return ms === null || ms === undefined ? cap : Math.max(0, Math.min(cap, ms));
    },
    async pending(): Promise<{ streamId: string; dueAt: Date; why: string | null }[]> {
      const { rows } = await db.query<{ stream_id: string; due_at: Date; why: string | null }>(`SELECT stream_id, due_at, why FROM ${table} ORDER BY due_at`);
      return rows.map((r) => ({ streamId: r.stream_id, dueAt: new Date(r.due_at), why: r.why }));
    },
  };
};

export type JobsTable = Awaited<ReturnType<typeof createJobsTable>>;
