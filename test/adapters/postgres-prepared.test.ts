import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/**
 * Parameterised statements run as named prepared statements on each pooled connection. A rebuild
 * can swap a table for one with other columns; a statement prepared before then no longer fits.
 */
describe('pgPoolDb prepared statements across a change of a table’s columns', () => {
  const schema = uniqueSchema('prepared');
  let db: SqlDb;
  let admin: pg.Client;
  beforeAll(async () => {
    db = pgPoolDb(TEST_DATABASE_URL, 2);
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.rows (id int PRIMARY KEY, name text); INSERT INTO ${schema}.rows VALUES (1, 'one')`);
  });
  afterAll(async () => {
    await db?.close();
    await admin?.end();
    await dropSchema(schema);
  });

  const select = `SELECT * FROM ${schema}.rows WHERE id = $1`;
  /** Prepares the statement on both pooled connections (two at once take both). */
  const warm = () =>
    Promise.all([
      db.transaction(async (tx) => {
        await tx.query(select, [1]);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }),
      db.transaction(async (tx) => {
        await tx.query(select, [1]);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }),
    ]);

  it('keeps answering, on every pooled connection, in and out of transactions, after a column is added', async () => {
    await warm();
    await admin.query(`ALTER TABLE ${schema}.rows ADD COLUMN note text DEFAULT 'new'`);
    for (let i = 0; i < 4; i++) {
      const { rows } = await db.transaction((tx) => tx.query(select, [1]));
      expect(rows).toEqual([{ id: 1, name: 'one', note: 'new' }]);
    }
    await admin.query(`ALTER TABLE ${schema}.rows ADD COLUMN extra int DEFAULT 7`);
    for (let i = 0; i < 4; i++) expect((await db.query(select, [1])).rows).toEqual([{ id: 1, name: 'one', note: 'new', extra: 7 }]);
  });

  it('a plain pg client shows the failure this guards against', async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query({ name: 'probe', text: select, values: [1] });
      await admin.query(`ALTER TABLE ${schema}.rows ADD COLUMN more int`);
      await expect(client.query({ name: 'probe', text: select, values: [1] })).rejects.toThrow(/cached plan must not change result type/);
    } finally {
      await client.end();
    }
  });
});
