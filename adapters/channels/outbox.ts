import type { SqlDb } from '../event-store/sql/db.ts';

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
  /** Parts counted as sent without an answer (a worker died, or the platform timed out). */
  readonly unconfirmed: number;
  /** `sending`, `delivered` or `failed`: the last two were recorded in the log too. */
  readonly state: string;
}

export const createOutbox = async (db: SqlDb, schema: string) => {
  const table = `${schema}.bot_outbox`;
  await db.exec(`
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
    );`);
  const rowOf = (r: Record<string, unknown>): OutboxRow => ({
    sent: Number(r.sent),
    ids: (r.ids as string[] | null) ?? [],
    attempting: r.attempting === null ? null : Number(r.attempting),
    unconfirmed: Number(r.unconfirmed),
    state: String(r.state),
  });
  return {
    /** The message's row, made on first sight. */
    async open(key: string, tenantId: string): Promise<OutboxRow> {
      const { rows } = await db.query(
        `INSERT INTO ${table} (message_key, tenant_id) VALUES ($1, $2)
         ON CONFLICT (message_key) DO UPDATE SET updated_at = ${table}.updated_at
         RETURNING sent, ids, attempting, unconfirmed, state`,
        [key, tenantId],
      );
      return rowOf(rows[0]!);
    },
    /** Committed before the part's request leaves. */
    async attempt(key: string, part: number): Promise<void> {
      await db.query(`UPDATE ${table} SET attempting = $2, updated_at = now() WHERE message_key = $1`, [key, part]);
    },
    async sent(key: string, part: number, id: string): Promise<void> {
      await db.query(`UPDATE ${table} SET sent = $2 + 1, ids = array_append(ids, $3), attempting = NULL, updated_at = now() WHERE message_key = $1`, [
        key,
        part,
        id,
      ]);
    },
    /** A part that may have gone (no answer): never sent again, counted as unconfirmed. */
    async unconfirmed(key: string, part: number): Promise<void> {
      await db.query(`UPDATE ${table} SET sent = $2 + 1, unconfirmed = unconfirmed + 1, attempting = NULL, updated_at = now() WHERE message_key = $1`, [key, part]);
    },
    /** The part certainly did not go (refused, or a failure before the request left): it may be sent again. */
    async released(key: string): Promise<void> {
      await db.query(`UPDATE ${table} SET attempting = NULL, updated_at = now() WHERE message_key = $1`, [key]);
    },
    async settled(key: string, state: 'delivered' | 'failed'): Promise<void> {
      await db.query(`UPDATE ${table} SET state = $2, updated_at = now() WHERE message_key = $1`, [key, state]);
    },
  };
};

export type Outbox = Awaited<ReturnType<typeof createOutbox>>;
