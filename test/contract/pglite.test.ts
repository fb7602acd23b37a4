import { PGlite } from '@electric-sql/pglite';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { eventStoreContract } from './event-store.contract.ts';

eventStoreContract('PGlite (embedded)', async () => {
  const pg = await PGlite.create();
  return {
    // One backend: a held commit blocks the others instead of racing them, so the case checks order only.
    concurrentCommits: false,
    heldCommitRuns: 5,
    open: (options = {}) => createSqlEventStore(pgliteDb(pg, { ownsInstance: false }), options),
    teardown: () => pg.close(),
  };
});
