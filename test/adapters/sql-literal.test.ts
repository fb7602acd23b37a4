import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlLiteral } from '../../adapters/event-store/sql/db.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

/** Text put into SQL as a literal (a tenant read's prelude) comes back from PostgreSQL exactly as it went in. */
describe('sqlLiteral', () => {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  beforeAll(() => client.connect());
  afterAll(() => client.end());

  it.each([["it's"], ["'; DROP TABLE x; --"], ['back\\slash'], ["\\'; SELECT 1; --"], ['ünï ✓ 🐙'], ['']])('round-trips %j', async (text) => {
    for (const standard of ['on', 'off']) {
      await client.query(`SET standard_conforming_strings = ${standard}`);
      const { rows } = await client.query(`SELECT ${sqlLiteral(text)} AS v`);
      expect(rows).toEqual([{ v: text }]);
    }
  });

  it('refuses NUL, which PostgreSQL text cannot hold', () => expect(() => sqlLiteral('a\0b')).toThrow('NUL'));
});
