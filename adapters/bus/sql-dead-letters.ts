import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { Querier } from '../event-store/sql/db.ts';
import { checkSchemaName, ddlUnderSchemaLock } from '../event-store/sql/schema.ts';
import { errorText } from './delivery.ts';

export interface DeadLetter {
  readonly consumer: string;
  readonly eventId: string;
  readonly streamId: string;
  readonly type: string;
  readonly position: string;
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: Date;
}

/**
 * The in-process bus's dead letters: a table beside its checkpoints. The event itself stays in the
 * log; a row says which consumer gave up on it, after how many attempts and why. A repeat (the
 * event came round again after a crash) keeps the first row.
 */
export const createSqlDeadLetters = async (db: Querier, schema = 'eventlog') => {
  const s = checkSchemaName(schema);
  await db.exec(ddlUnderSchemaLock(s, `
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.dead_letters (
      consumer text NOT NULL,
      event_id uuid NOT NULL,
      stream_id text NOT NULL,
      type text NOT NULL,
      position bigint NOT NULL,
      error text NOT NULL,
      attempts int NOT NULL,
      failed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, event_id)
    );`));
  return {
    async add(consumer: string, event: RecordedEvent, error: unknown, attempts: number): Promise<void> {
      await db.query(
        `INSERT INTO ${s}.dead_letters (consumer, event_id, stream_id, type, position, error, attempts)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [consumer, event.id, event.streamId, event.type, String(event.position), errorText(error), attempts],
      );
    },
    async list(consumer: string): Promise<DeadLetter[]> {
      const { rows } = await db.query<{ event_id: string; stream_id: string; type: string; position: string; error: string; attempts: number; failed_at: Date }>(
        `SELECT event_id, stream_id, type, position::text AS position, error, attempts, failed_at
           FROM ${s}.dead_letters WHERE consumer = $1 ORDER BY position`,
        [consumer],
      );
      return rows.map((r) => ({
        consumer,
        eventId: r.event_id,
        streamId: r.stream_id,
        type: r.type,
        position: r.position,
        error: r.error,
        attempts: r.attempts,
        failedAt: new Date(r.failed_at),
      }));
    },
  };
};

export type SqlDeadLetters = Awaited<ReturnType<typeof createSqlDeadLetters>>;
