import { createHash } from 'node:crypto';
import type { SqlDb } from './db.ts';

/**
 * Runs a migration once per distinct text: its hash is recorded in `<schema>.migrations`.
 * Re-running DDL on every process start would take ACCESS EXCLUSIVE locks on live tables
 * (ALTER TABLE, CREATE POLICY) and deadlock with readers mid-transaction.
 */
export const migrateOnce = async (db: SqlDb, schema: string, lockKey: string, ddl: string): Promise<void> => {
  const hash = createHash('sha256').update(ddl).digest('hex');
  const applied = async (q: Pick<SqlDb, 'query'>) =>
    (
      await q.query<{ found: boolean }>(
        `SELECT to_regclass($1) IS NOT NULL AND EXISTS (SELECT 1 FROM ${schema}.migrations WHERE hash = $2) AS found`,
        [`${schema}.migrations`, hash],
      ).catch(() => ({ rows: [{ found: false }] }))
    ).rows[0]?.found === true;
  if (await applied(db)) return;
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [lockKey]);
    // and the schema's, as every other table set's DDL takes it (ddlUnderSchemaLock): CREATE SCHEMA IF NOT EXISTS races itself
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`schema-ddl:${schema}`]);
    await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; CREATE TABLE IF NOT EXISTS ${schema}.migrations (hash text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());`);
    if ((await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.migrations WHERE hash = $1`, [hash])).rows[0]?.n) return;
    await tx.exec(ddl);
    await tx.query(`INSERT INTO ${schema}.migrations (hash) VALUES ($1)`, [hash]);
  });
};
