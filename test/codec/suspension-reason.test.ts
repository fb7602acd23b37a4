import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERASED_MARKER } from '../../domain/ports/keys.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { meta } from '../support/ids.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

/** An operator's suspension reason is free text that may name a person: personal data, sealed like a name. */
describe("a suspension's reason at rest", () => {
  let h: ApiHarness;
  const sql = new pg.Client({ connectionString: TEST_DATABASE_URL });
  beforeAll(async () => {
    h = await startApiHarness();
    await sql.connect();
  });
  afterAll(async () => {
    await sql.end();
    await h?.close();
  });

  it("given a suspension with a reason naming a person, then the log holds it as ciphertext only, the tenant's audit state shows it, and after erasure it reads as erased", async () => {
    const operator = client(h.baseUrl, h.operatorKey);
    const t = await newTenant(operator, 'pro');
    const reason = `customer John Smith ${randomUUID().slice(0, 8)} disputed the charge`;
    ok(await operator.post(`/tenants/${t.tenantId}/suspend`, { reason }), 200);
    ok(await operator.post(`/tenants/${t.tenantId}/suspend`, { reason }), 200); // the same reason again: nothing new to record

    const rows = await sql.query<{ data: string; metadata: { enc?: number } }>(
      `SELECT data::text AS data, metadata FROM ${h.schemas.events}.events WHERE tenant_id = $1 AND type LIKE 'TenantSuspended%'`,
      [t.tenantId],
    );
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0]!.data).not.toContain('John Smith');
    expect(rows.rows[0]!.metadata.enc).toBe(1);

    const state = ok(await client(h.baseUrl, t.key).get<{ tenant: { status: string; suspendedReason?: string } }>('/audit/state'), 200);
    expect(state.tenant).toMatchObject({ status: 'suspended', suspendedReason: reason });

    ok(await operator.delete(`/tenants/${t.tenantId}`), 200);
    const log = await h.storage.store.readAll({ filter: { tenantId: t.tenantId }, maxCount: 100 });
    const suspended = (await h.storage.codec.decode(log, 'view')).filter((e) => e.type === 'TenantSuspended');
    expect(suspended.map((e) => (e.data as { reason: string }).reason)).toEqual([ERASED_MARKER]);
  });

  it('a TenantSuspended written before the reason was sealed still reads, in clear', async () => {
    const t = await newTenant(client(h.baseUrl, h.operatorKey), 'pro');
    const stream = `tenant-${t.tenantId}`;
    // as stored then: no `enc` mark, the reason in clear
    await h.storage.store.append(stream, [{ id: randomUUID(), type: 'TenantSuspended', data: { reason: 'an old reason', at: '2026-01-01T00:00:00.000Z' }, metadata: meta(t.tenantId) }], 'any');
    const suspended = (await h.storage.codec.decodeStream('tenant', await h.storage.store.readStream(stream), 'open')).filter((e) => e.type === 'TenantSuspended');
    expect(suspended.map((e) => e.data)).toEqual([{ reason: 'an old reason', at: '2026-01-01T00:00:00.000Z' }]);
    const state = ok(await client(h.baseUrl, t.key).get<{ tenant: { status: string; suspendedReason?: string } }>('/audit/state'), 200);
    expect(state.tenant).toMatchObject({ status: 'suspended', suspendedReason: 'an old reason' });
  });
});
