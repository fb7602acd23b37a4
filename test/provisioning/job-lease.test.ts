import { afterAll, describe, expect, it } from 'vitest';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createJobsTable } from '../../adapters/provisioning/jobs-table.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two saga processes share the jobs table; a step outliving its lease must not be claimed by the other. */
describe('provisioning job leases', () => {
  const schema = uniqueSchema('jobs');
  const db = pgPoolDb(TEST_DATABASE_URL, 2);
  afterAll(async () => {
    await db.close();
    await dropSchema(schema);
  });

  it('a lease that is renewed keeps the job from another instance; one that is not, lapses to it', async () => {
    const a = await createJobsTable(db, schema, 'instance-a');
    const b = await createJobsTable(db, schema, 'instance-b');
    await a.wake(['knight-renewed', 'knight-lapsed']);
    const claimed = await a.claimDue(10, 300);
    expect(claimed.map((j) => j.streamId).sort()).toEqual(['knight-lapsed', 'knight-renewed']);
    for (let i = 0; i < 5; i++) {
      await sleep(100);
      expect(await a.renew('knight-renewed', 300)).toBe(true);
    }
    // 500 ms later: the renewed lease still holds, the other lapsed at 300 ms
    expect((await b.claimDue(10, 300)).map((j) => j.streamId)).toEqual(['knight-lapsed']);
    // and a lease that is no longer ours is not renewed
    expect(await a.renew('knight-lapsed', 300)).toBe(false);
  });
});
