import type { CheckpointStore } from '../../domain/ports/checkpoints.ts';
import type { Querier } from '../event-store/sql/db.ts';
import { checkSchemaName, ddlUnderSchemaLock } from '../event-store/sql/schema.ts';

const CONSUMER_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

export const createSqlCheckpointStore = async (db: Querier, schema = 'eventlog'): Promise<CheckpointStore> => {
  const s = checkSchemaName(schema);
  await db.exec(ddlUnderSchemaLock(s, `
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.checkpoints (
      consumer text PRIMARY KEY,
      position bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );`));
  const check = (consumer: string) => {
    if (!CONSUMER_NAME.test(consumer)) throw new Error(`invalid consumer name: ${consumer}`);
  };
  return {
    async load(consumer) {
      check(consumer);
      const { rows } = await db.query<{ position: string }>(`SELECT position FROM ${s}.checkpoints WHERE consumer = $1`, [consumer]);
      return rows[0] ? BigInt(rows[0].position) : undefined;
    },
    async save(consumer, position) {
      check(consumer);
      await db.query(
        `INSERT INTO ${s}.checkpoints (consumer, position) VALUES ($1, $2)
         ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = now()
         WHERE ${s}.checkpoints.position < excluded.position`,
        [consumer, String(position)],
      );
    },
  };
};
