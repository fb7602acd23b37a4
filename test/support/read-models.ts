import pg from 'pg';
import { expect } from 'vitest';
import { PROJECTIONS } from '../../projections/index.ts';
import { TEST_DATABASE_URL } from './postgres.ts';

/** Every read-model table of schema `a` equals the same table of `b`, row for row (both ways, duplicates counted). */
export const expectSameReadModels = async (a: string, b: string, options: { nonEmpty?: readonly string[] } = {}) => {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    for (const table of PROJECTIONS.flatMap((p) => p.tables.map((t) => t.name))) {
      const diff = async (x: string, y: string) =>
        Number((await client.query(`SELECT count(*) AS n FROM (SELECT * FROM ${x}.${table} EXCEPT ALL SELECT * FROM ${y}.${table}) d`)).rows[0].n);
      expect({ table, missing: await diff(b, a), extra: await diff(a, b) }).toEqual({ table, missing: 0, extra: 0 });
      if (options.nonEmpty?.includes(table)) {
        const count = Number((await client.query(`SELECT count(*) AS n FROM ${a}.${table}`)).rows[0].n);
        expect(count, `${table} has rows`).toBeGreaterThan(0);
      }
    }
  } finally {
    await client.end();
  }
};
