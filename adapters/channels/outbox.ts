import type { SqlDb } from '../event-store/sql/db.ts';
import { checkSchemaName, ddlUnderSchemaLock } from '../event-store/sql/schema.ts';

/**
 * The delivery worker's record of every send, in PostgreSQL beside the bus checkpoints. A part's send is
 * announced (`attempting`) and committed before the request leaves, and its answer recorded after, so a
 * worker that died in between leaves a row that says so. See docs/channels.md, "Exactly one send".
 */
export interface OutboxRow {
  /** Parts whose send was answered, in order; their platform ids in `ids`. */
  readonly sent: number;
  readonly ids: readonly string[];
  /** The part whose request may have left without an answer heard; null when none. */
  readonly attempting: number | null;
  /** The send journal under which that attempt was made (send-journal.ts), when there was one. */
  readonly attemptBy: string | null;
  /** Parts counted as sent without an answer (a worker died, or the platform timed out). */
  readonly unconfirmed: number;
  /** `sending`, `delivered` or `failed`: the last two were recorded in the log too. */
  readonly state: string;
}

export const createOutbox = async (db: SqlDb, schema: string) => {
  const table = `${checkSchemaName(schema)}.bot_outbox`;
  await db.exec(ddlUnderSchemaLock(schema, `
    CREATE SCHEMA IF NOT EXISTS ${schema};
    CREATE TABLE IF NOT EXISTS ${table} (
      message_key text PRIMARY KEY,
      tenant_id text NOT NULL,
      sent integer NOT NULL DEFAULT 0,
      ids text[] NOT NULL DEFAULT '{}',
      attempting integer,
      unconfirmed integer NOT NULL DEFAULT 0,
      state text NOT NULL DEFAULT 'sending',
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS attempt_by text;`));
  const rowOf = (r: Record<string, unknown>): OutboxRow => ({
    sent: Number(r.sent),
    ids: (r.ids as string[] | null) ?? [],
    attempting: r.attempting === null ? null : Number(r.attempting),
    attemptBy: (r.attempt_by as string | null) ?? null,
    unconfirmed: Number(r.unconfirmed),
    state: String(r.state),
  });
  return {
    /** The message's row, made on first sight. */
    async open(key: string, tenantId: string): Promise<OutboxRow> {
      const { rows } = await db.query(
        `INSERT INTO ${table} (message_key, tenant_id) VALUES ($1, $2)
         ON CONFLICT (message_key) DO UPDATE SET updated_at = ${table}.updated_at
         RETURNING sent, ids, attempting, attempt_by, unconfirmed, state`,
        [key, tenantId],
      );
      return rowOf(rows[0]!);
    },
    /** Committed before the part's request leaves; `by` names the send journal that will say whether it left. */
    async attempt(key: string, part: number, by: string | null = null): Promise<void> {
      await db.query(`UPDATE ${table} SET attempting = $2, attempt_by = $3, updated_at = now() WHERE message_key = $1`, [key, part, by]);
    },
    /** Attempts still open under a journal: the lines it must keep. */
    async openAttempts(by: string): Promise<{ key: string; part: number }[]> {
      const { rows } = await db.query(`SELECT message_key, attempting FROM ${table} WHERE attempt_by = $1 AND attempting IS NOT NULL`, [by]);
      return rows.map((r) => ({ key: String(r.message_key), part: Number(r.attempting) }));
    },
    async sent(key: string, part: number, id: string): Promise<void> {
      await db.query(`UPDATE ${table} SET sent = $2 + 1, ids = array_append(ids, $3), attempting = NULL, attempt_by = NULL, updated_at = now() WHERE message_key = $1`, [
        key,
        part,
        id,
      ]);
    },
    /** A part that may have gone (no answer): never sent again, counted as unconfirmed. */
    async unconfirmed(key: string, part: number): Promise<void> {
      await db.query(`UPDATE ${table} SET sent = $2 + 1, unconfirmed = unconfirmed + 1, attempting = NULL, attempt_by = NULL, updated_at = now() WHERE message_key = $1`, [key, part]);
    },
    /** The part certainly did not go (refused, or a failure before the request left): it may be sent again. */
    async released(key: string): Promise<void> {
      await db.query(`UPDATE ${table} SET attempting = NULL, attempt_by = NULL, updated_at = now() WHERE message_key = $1`, [key]);
    },
    async settled(key: string, state: 'delivered' | 'failed'): Promise<void> {
      await db.query(`UPDATE ${table} SET state = $2, updated_at = now() WHERE message_key = $1`, [key, state]);
    },
  };
};

export type Outbox = Awaited<ReturnType<typeof createOutbox>>;
