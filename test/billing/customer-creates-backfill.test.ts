import { afterAll, describe, expect, it } from 'vitest';
import { createBillingTables } from '../../adapters/billing/tables.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/**
 * Upgrading from the release before `billing_customer_creates`: a create that release sent, whose answer was lost,
 * left an account job and no row, and the tenant's erasure would not recover (delete) the customer Stripe made.
 */
describe('billing_customer_creates on an upgraded database', () => {
  const schema = uniqueSchema('billing_backfill');
  const db = pgPoolDb(TEST_DATABASE_URL, 2);
  afterAll(async () => {
    await db.close();
    await dropSchema(schema);
  });

  it('is created with a row for each tenant that has an account job then (and only then): its erasure replays the create', async () => {
    // the release before: billing's tables without billing_customer_creates, a tenant's create job pending
    await createBillingTables(db, schema, 'old');
    await db.exec(`DROP TABLE ${schema}.billing_customer_creates`);
    await db.query(
      `INSERT INTO ${schema}.billing_jobs (id, tenant_id, lane, payload) VALUES
        ('created:e1', 'pending-create', 'account', '{"kind":"created","tier":"pro","eventId":"e1"}'),
        ('tier:e2', 'pending-create', 'account', '{"kind":"tier","tier":"enterprise","eventId":"e2"}'),
        ('usage:e3', 'usage-only', 'usage', '{"kind":"usage","meter":"messages","value":1,"identifier":"e3","timestamp":1,"day":"2026-01-01"}')`,
    );
    const tables = await createBillingTables(db, schema, 'new');
    expect(await tables.customers.createAttempted('pending-create')).toBe(true);
    expect(await tables.customers.createAttempted('usage-only')).toBe(false);
    // once the table exists, rows come from the creates only: a later start adds none for a job billing has not reached
    await db.query(`INSERT INTO ${schema}.billing_jobs (id, tenant_id, lane, payload) VALUES ('created:e4', 'later', 'account', '{"kind":"created","tier":"pro","eventId":"e4"}')`);
    await createBillingTables(db, schema, 'new');
    expect(await tables.customers.createAttempted('later')).toBe(false);
  });
});
