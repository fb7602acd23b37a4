import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL event store: LISTEN connection on close', () => {
  it('close() while the lost LISTEN connection is being re-made leaves no connection behind', async () => {
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    const leaked: number[] = [];
    try {
      for (const extra of [199, 201, 203, 205, 207, 209]) {
        const schema = uniqueSchema('rvlisten');
        const store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 2 });
        const listening = `LISTEN "${schema}_appended"`;
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, [listening]);
        await sleep(extra);
        await store.close();
        await sleep(300);
        const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1`, [listening]);
        leaked.push(rows[0]!.n);
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, [listening]);
        await dropSchema(schema);
      }
    } finally {
      await admin.end();
    }
    expect(leaked).toEqual(leaked.map(() => 0));
  }, 30_000);
});
