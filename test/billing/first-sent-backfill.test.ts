import { afterAll, describe, expect, it } from 'vitest';
import { createBillingTables } from '../../adapters/billing/tables.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/**
 * Upgrading from the release before `first_sent_at`: a usage report that release had sent already (attempts > 0)
 * has an unknown outcome; without a mark it would be sent again at any age, past Stripe's 24 h dedupe.
 */
describe('first_sent_at on an upgraded database', () => {
  const schema = uniqueSchema('billing_first_sent');
  const db = pgPoolDb(TEST_DATABASE_URL, 2);
  afterAll(async () => {
    await db.close();
    await dropSchema(schema);
  });

  const marks = async () =>
    Object.fromEntries((await db.query<{ id: string; first_sent_at: Date | null }>(`SELECT id, first_sent_at FROM ${schema}.billing_jobs ORDER BY id`)).rows.map((r) => [r.id, r.first_sent_at !== null]));

  it('is added with a mark on each usage report the release before had tried (and only when added)', async () => {
    await createBillingTables(db, schema, 'old');
    await db.exec(`ALTER TABLE ${schema}.billing_jobs DROP COLUMN first_sent_at`);
    const usage = (id: string) => `'{"kind":"usage","meter":"messages","value":1,"identifier":"${id}","timestamp":1,"day":"2026-01-01"}'`;
    await db.query(
      `INSERT INTO ${schema}.billing_jobs (id, tenant_id, lane, payload, attempts) VALUES
        ('usage:tried', 't', 'usage', ${usage('tried')}, 2),
        ('usage:fresh', 't', 'usage', ${usage('fresh')}, 0),
        ('created:e1', 't', 'account', '{"kind":"created","tier":"pro","eventId":"e1"}', 3)`,
    );
    await createBillingTables(db, schema, 'new');
    expect(await marks()).toEqual({ 'created:e1': false, 'usage:fresh': false, 'usage:tried': true });
    // once the column exists, a later start marks nothing (a report Stripe answered "did nothing" stays unmarked)
    await db.query(`INSERT INTO ${schema}.billing_jobs (id, tenant_id, lane, payload, attempts) VALUES ('usage:later', 't', 'usage', ${usage('later')}, 1)`);
    await createBillingTables(db, schema, 'new');
    expect((await marks())['usage:later']).toBe(false);
  });
});
