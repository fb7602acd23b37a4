import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SQL event store: a subscription opened while the database is briefly unavailable', () => {
  const schema = uniqueSchema('rvoutage');
  let store: EventStore | undefined;
  afterAll(async () => {
    await store?.close();
    await dropSchema(schema);
  });

  it('delivers once the database answers again', async () => {
    // statement_timeout: a blocked query fails with 57014, which the store reports as store_unavailable
    const url = `${TEST_DATABASE_URL}?options=${encodeURIComponent('-c statement_timeout=300')}`;
    store = await createPostgresEventStore({ connectionString: url, schema, poolSize: 4 });
    const t = uniqueTenant();
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    const seen: RecordedEvent[] = [];
    let subscription;
    try {
      await admin.query(`BEGIN; LOCK TABLE ${schema}.events IN ACCESS EXCLUSIVE MODE`);
      subscription = store.subscribe({ filter: { tenantId: t } }, (events) => void seen.push(...events));
      await sleep(600); // the tail's first read of the head times out meanwhile
    } finally {
      await admin.query('COMMIT');
      await admin.end();
    }
    await store.append(`tenant-${t}`, [newEvent(t, 'Thing')], 'any');
    const until = Date.now() + 6_000;
    while (seen.length === 0 && Date.now() < until) await sleep(50);
    await subscription.close();
    expect(seen).toHaveLength(1);
  }, 20_000);
});
