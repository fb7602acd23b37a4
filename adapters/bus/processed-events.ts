import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { Querier, SqlDb } from '../event-store/sql/db.ts';
import { checkSchemaName, ddlUnderSchemaLock } from '../event-store/sql/schema.ts';

/**
 * Effects exactly once on an at-least-once bus: a consumer records the ids of the events it has
 * handled in the same transaction as the effect, so a redelivered event (after a crash, a
 * rebalance, a relay that re-sent) finds its id and changes nothing. Two instances handling the
 * same event at once (during a rebalance) queue on the primary key: the second sees the first's
 * row once it commits and skips.
 *
 * For effects outside the database (a Telegram message) this gives at-most-once per failure
 * window instead: record first, then call, or call with the event id as the remote side's
 * idempotency key where it has one.
 */
export const createProcessedEvents = async (db: SqlDb, schema: string) => {
  const s = checkSchemaName(schema);
  await db.exec(ddlUnderSchemaLock(s, `
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.processed_events (
      consumer text NOT NULL,
      event_id uuid NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, event_id)
    );`));
  return {
    /**
     * In one transaction: records which of `events` this consumer has not handled yet and runs
     * `effect` with those (in the order given). Returns them. If the effect throws, nothing is recorded.
     */
    async once<T extends Pick<RecordedEvent, 'id'>>(consumer: string, events: readonly T[], effect: (tx: Querier, fresh: readonly T[]) => Promise<void>): Promise<readonly T[]> {
      if (events.length === 0) return [];
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<{ event_id: string }>(
          `INSERT INTO ${s}.processed_events (consumer, event_id)
           SELECT $1, id FROM unnest($2::uuid[]) AS ids(id)
           ON CONFLICT DO NOTHING RETURNING event_id`,
          [consumer, events.map((e) => e.id)],
        );
        const inserted = new Set(rows.map((r) => r.event_id));
        const seen = new Set<string>();
        const fresh = events.filter((e) => inserted.has(e.id.toLowerCase()) && !seen.has(e.id) && seen.add(e.id));
        if (fresh.length > 0) await effect(tx, fresh);
        return fresh;
      });
    },
    /** Forgets records older than `before` (keep them longer than any redelivery can take: the topic's retention). */
    async prune(before: Date): Promise<number> {
      const { rows } = await db.query<{ n: number }>(
        `WITH gone AS (DELETE FROM ${s}.processed_events WHERE processed_at < $1 RETURNING 1) SELECT count(*)::int AS n FROM gone`,
        [before],
      );
      return rows[0]?.n ?? 0;
    },
  };
};

export type ProcessedEvents = Awaited<ReturnType<typeof createProcessedEvents>>;
