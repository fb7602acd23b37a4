import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';
import { eventStoreContract } from './event-store.contract.ts';

/** HELD_COMMIT_RUNS repeats the held-commit case (default 50); fewer than 1 would test nothing and is refused. */
const heldCommitRuns = (): number => {
  const raw = process.env.HELD_COMMIT_RUNS ?? '50';
  const runs = Number(raw);
  if (!/^\d+$/.test(raw) || runs < 1) throw new Error(`HELD_COMMIT_RUNS must be a whole number ≥ 1 (got ${JSON.stringify(raw)})`);
  return runs;
};

eventStoreContract('PostgreSQL', async () => {
  const schema = uniqueSchema('contract');
  return {
    concurrentCommits: true,
    heldCommitRuns: heldCommitRuns(),
    open: (options = {}) => createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 4, ...options }),
    teardown: () => dropSchema(schema),
  };
});
