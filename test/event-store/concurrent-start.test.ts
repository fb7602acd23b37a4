import { afterAll, describe, expect, it } from 'vitest';
import { createBillingTables } from '../../adapters/billing/tables.ts';
import { createProcessedEvents } from '../../adapters/bus/processed-events.ts';
import { createSqlCheckpointStore } from '../../adapters/bus/sql-checkpoints.ts';
import { createSqlDeadLetters } from '../../adapters/bus/sql-dead-letters.ts';
import { createOutbox } from '../../adapters/channels/outbox.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { migrateOnce } from '../../adapters/event-store/sql/migrate.ts';
import { createJobsTable } from '../../adapters/provisioning/jobs-table.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/**
 * The roles of a fresh deployment start at once on an empty database, each creating the tables it
 * needs (`CREATE SCHEMA IF NOT EXISTS …`, which is not safe against itself: one of two at once
 * failed on the catalog's unique index, and that role exited at start).
 */
describe('several processes creating their tables at once on an empty schema', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(schema);
  });

  it('all start: none fails on a schema or table another is creating at the same moment', async () => {
    const failures: string[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const schema = uniqueSchema('concurrent_start');
      schemas.push(schema);
      // one pool per "process"
      const processes: SqlDb[] = Array.from({ length: 6 }, () => pgPoolDb(TEST_DATABASE_URL, 2));
      try {
        const started = await Promise.allSettled(
          processes.flatMap((db, i) => [
            createSqlCheckpointStore(db, schema),
            createSqlDeadLetters(db, schema),
            createProcessedEvents(db, schema),
            createOutbox(db, schema),
            createJobsTable(db, schema, `instance-${i}`),
            createBillingTables(db, schema, `instance-${i}`),
            migrateOnce(db, schema, `concurrent-start-test:${schema}`, `CREATE TABLE IF NOT EXISTS ${schema}.migrated (id int);`),
          ]),
        );
        for (const result of started) if (result.status === 'rejected') failures.push(String((result.reason as Error).message));
      } finally {
        await Promise.all(processes.map((db) => db.close()));
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
