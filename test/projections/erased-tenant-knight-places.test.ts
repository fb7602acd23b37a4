import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { readFresh } from '../runtime/support/journey.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

/** What an erased tenant would leave behind in the tables that are no projection. */
describe("an erased tenant's knight places", () => {
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

  const placesOf = async (tenantId: string) =>
    Number((await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${h.schemas.readModels}.knight_reservations WHERE tenant_id = $1`, [tenantId])).rows[0]!.n);

  it("given a tenant whose deploys hold knight places, when it is erased, then its places are deleted (another tenant's stay)", async () => {
    const operator = client(h.baseUrl, h.operatorKey);
    const [gone, kept] = [await newTenant(operator, 'pro'), await newTenant(operator, 'pro')];
    for (const t of [gone, kept]) {
      const knight = ok(await client(h.baseUrl, t.key).post<{ knightId: string; position: string }>('/knights', { task: 'Build the website' }), 202);
      await readFresh(client(h.baseUrl, t.key), `/knights/${knight.knightId}?minPosition=${knight.position}`);
    }
    expect(await placesOf(gone.tenantId)).toBe(1);
    expect(await placesOf(kept.tenantId)).toBe(1);

    ok(await operator.delete(`/tenants/${gone.tenantId}`), 200);

    await expect.poll(() => placesOf(gone.tenantId), { timeout: 10_000 }).toBe(0);
    expect(await placesOf(kept.tenantId)).toBe(1);
  });
});
