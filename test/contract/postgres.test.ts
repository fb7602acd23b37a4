import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';
import { eventStoreContract } from './event-store.contract.ts';

eventStoreContract('PostgreSQL', async () => {
  const schema = uniqueSchema('contract');
  return {
    concurrentCommits: true,
    heldCommitRuns: Number(process.env.HELD_COMMIT_RUNS ?? 50),
    open: (options = {}) => createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 4, ...options }),
    teardown: () => dropSchema(schema),
  };
});
