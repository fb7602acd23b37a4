import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { createReadSide } from '../../adapters/projections/read-side.ts';
import { asTenantId } from '../../domain/index.ts';
import type { TenantId } from '../../domain/index.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import type { ReadSide } from '../../projections/read-side.ts';
import { ROLES } from '../../projections/shared/migration.ts';
import { caughtUp, seedTenant } from '../http/support/seed.ts';
import type { SeededTenant } from '../http/support/seed.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

const READS = 10_000;
const IN_FLIGHT = 20;

class MidRequestFailure extends Error {}

// Two pooled connections shared by 10,000 interleaved tenant reads, some of which fail half-way:
// if a role or tenant ever outlived its transaction, a later read on that connection would see it.
describe('pool leak: tenant context never survives a transaction on a pooled connection', () => {
  let h: ApiHarness;
  let db: SqlDb;
  let reads: ReadSide;
  let a: SeededTenant;
  let b: SeededTenant;

  beforeAll(async () => {
    h = await startApiHarness();
    a = await seedTenant(h, { conversations: 4 });
    b = await seedTenant(h, { conversations: 5 });
    await caughtUp(h, BigInt(a.position) > BigInt(b.position) ? a.position : b.position);
    db = pgPoolDb(TEST_DATABASE_URL, 2);
    reads = createReadSide({ db, schema: h.schemas.readModels, store: h.storage.store, codec: h.storage.codec, projections: PROJECTIONS });
  });
  afterAll(async () => {
    await db?.close();
    await h?.close();
  });

  it(`${READS} interleaved reads for two tenants, every 7th throwing mid-transaction and every 11th hitting an SQL error: each read sees only its tenant`, async () => {
    const tenants = [a, b];
    const owner = new Map<string, string>();
    for (const t of tenants) for (const id of t.conversationIds) owner.set(id, t.tenantId);
    const tally = { ok: 0, rowsSeen: 0, wrongTenantRows: 0, unknownRows: 0, thrown: 0, sqlErrors: 0, unexpected: [] as string[], probes: 0, leakedProbes: [] as string[] };

    const read = async (i: number) => {
      const tenant = tenants[(i * 7919) % 3 === 0 ? 1 : i % 2]!; // interleaved, not strictly alternating
      const tenantId: TenantId = asTenantId(tenant.tenantId);
      try {
        const seen = await reads.forTenant(tenantId, async (r) => {
          const me = await r.tenant();
          const page = await r.conversations({ limit: 100 });
          const knights = await r.knights({ limit: 100 });
          if (i % 7 === 0) throw new MidRequestFailure(`request ${i} failed after querying`);
          if (i % 11 === 0) await r.usage('not-a-day'); // invalid date: the statement fails inside the transaction
          return { me: me?.tenantId, conversations: page.items.map((c) => c.conversationId), knights: knights.items.map((k) => k.knightId) };
        });
        tally.ok++;
        tally.rowsSeen += seen.conversations.length + seen.knights.length + (seen.me ? 1 : 0);
        if (seen.me !== tenant.tenantId) tally.wrongTenantRows++;
        for (const id of seen.conversations) {
          const of = owner.get(id);
          if (of === undefined) tally.unknownRows++;
          else if (of !== tenant.tenantId) tally.wrongTenantRows++;
        }
        for (const id of seen.knights) if (id !== tenant.knightId) tally.wrongTenantRows++;
        if (seen.conversations.length !== tenant.conversationIds.length || seen.knights.length !== 1) tally.unexpected.push(`read ${i} saw ${JSON.stringify(seen)}`);
      } catch (error) {
        if (error instanceof MidRequestFailure) tally.thrown++;
        else if ((error as { code?: string }).code === '22007' || (error as { code?: string }).code === '22008') tally.sqlErrors++;
        else tally.unexpected.push(`read ${i}: ${String(error)}`);
      }
      // Between tenant reads, a bare query on the same two connections: no role, no tenant may be left over.
      if (i % 13 === 0) {
        const { rows } = await db.query<{ user: string; tenant: string | null }>(`SELECT current_user AS user, current_setting('app.tenant_id', true) AS tenant`);
        tally.probes++;
        if (rows[0]!.user === ROLES.api || (rows[0]!.tenant ?? '') !== '') tally.leakedProbes.push(JSON.stringify(rows[0]));
      }
    };

    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < READS) await read(next++);
      }),
    );
    const ms = Date.now() - started;

    const expectedThrown = Math.floor((READS - 1) / 7) + 1;
    const expectedSqlErrors = Array.from({ length: READS }, (_, i) => i % 11 === 0 && i % 7 !== 0).filter(Boolean).length;
    console.info(
      `pool leak: ${READS} reads in ${ms} ms on a pool of 2 (${IN_FLIGHT} in flight): ${tally.ok} succeeded seeing ${tally.rowsSeen} rows, ` +
        `${tally.wrongTenantRows} rows of the wrong tenant; ${tally.thrown} threw mid-transaction, ${tally.sqlErrors} hit an SQL error; ` +
        `${tally.probes} bare probes, ${tally.leakedProbes.length} saw a leftover role or tenant`,
    );
    expect(tally.unexpected.slice(0, 5)).toEqual([]);
    expect(tally.wrongTenantRows).toBe(0);
    expect(tally.unknownRows).toBe(0);
    expect(tally.leakedProbes).toEqual([]);
    expect(tally.thrown).toBe(expectedThrown);
    expect(tally.sqlErrors).toBe(expectedSqlErrors);
    expect(tally.ok).toBe(READS - expectedThrown - expectedSqlErrors);
    expect(tally.rowsSeen).toBeGreaterThan(tally.ok * 5);
    expect(tally.probes).toBe(Math.floor((READS - 1) / 13) + 1);
  }, 300_000); // about 10 s alone; much longer while the rest of the suite shares the 2 cores
});
