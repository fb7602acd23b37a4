import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../domain/index.ts';
import { ROLES } from '../../projections/shared/migration.ts';
import { caughtUp, seedTenant } from '../http/support/seed.ts';
import type { SeededTenant } from '../http/support/seed.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

// knight_reservations: the places knight deploys hold across API processes (written through SECURITY DEFINER functions only)
const TENANT_TABLES = ['api_keys', 'conversations', 'knight_reservations', 'knight_usage', 'knights', 'messages', 'tenants', 'usage_daily'];
const API = ROLES.api;

// Row-level security checked at the database itself, as the API's role, on read models the real stack wrote.
describe('row-level security on the read models (PostgreSQL)', () => {
  let h: ApiHarness;
  let db: pg.Client;
  let a: SeededTenant;
  let b: SeededTenant;
  let schema: string;
  /** Rows per table per tenant, counted as the superuser (who is not subject to RLS). */
  const rowsOf: Record<string, Record<string, number>> = {};

  const inTransaction = async <T>(work: () => Promise<T>): Promise<T> => {
    await db.query('BEGIN');
    try {
      return await work();
    } finally {
      await db.query('ROLLBACK');
    }
  };
  const count = async (table: string, where = 'true', params: unknown[] = []): Promise<number> =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.${table} WHERE ${where}`, params)).rows[0]!.n;
  /** The SQLSTATE a statement fails with, inside a savepoint so the transaction goes on. */
  const failure = async (sql: string, params: unknown[] = []): Promise<string | undefined> => {
    await db.query('SAVEPOINT attempt');
    try {
      await db.query(sql, params);
      await db.query('RELEASE SAVEPOINT attempt');
      return undefined;
    } catch (error) {
      await db.query('ROLLBACK TO SAVEPOINT attempt');
      return (error as { code?: string }).code ?? 'unknown';
    }
  };
  const asApi = async (tenantId?: string) => {
    await db.query(`SET LOCAL ROLE ${API}`);
    if (tenantId !== undefined) await db.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
  };

  beforeAll(async () => {
    h = await startApiHarness();
    schema = h.schemas.readModels;
    a = await seedTenant(h, { conversations: 2, provisionKnight: true });
    b = await seedTenant(h, { conversations: 3, provisionKnight: true });
    await caughtUp(h, BigInt(a.position) > BigInt(b.position) ? a.position : b.position);
    db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    for (const table of TENANT_TABLES)
      rowsOf[table] = { [a.tenantId]: await count(table, 'tenant_id = $1', [a.tenantId]), [b.tenantId]: await count(table, 'tenant_id = $1', [b.tenantId]) };
  });
  afterAll(async () => {
    await db?.end();
    await h?.close();
  });

  it('the eight tenant tables are exactly the tables with a tenant_id, and each holds rows of both tenants', async () => {
    const { rows } = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'tenant_id' ORDER BY table_name`,
      [schema],
    );
    expect(rows.map((r) => r.table_name)).toEqual(TENANT_TABLES);
    for (const table of TENANT_TABLES) {
      expect(rowsOf[table]![a.tenantId], `${table} rows of A`).toBeGreaterThan(0);
      expect(rowsOf[table]![b.tenantId], `${table} rows of B`).toBeGreaterThan(0);
    }
    expect(rowsOf.conversations).toEqual({ [a.tenantId]: 2, [b.tenantId]: 3 });
  });

  it('as the API role with no tenant set, every tenant table is empty', async () => {
    await inTransaction(async () => {
      await asApi();
      expect((await db.query<{ user: string; tenant: string | null }>(`SELECT current_user AS user, current_setting('app.tenant_id', true) AS tenant`)).rows[0]).toEqual({ user: API, tenant: null });
      for (const table of TENANT_TABLES) expect([table, await count(table)]).toEqual([table, 0]);
    });
    // The same with the setting present but empty (what a pooled connection shows after an earlier transaction set it).
    await inTransaction(async () => {
      await asApi('');
      for (const table of TENANT_TABLES) expect([table, await count(table)]).toEqual([table, 0]);
    });
  });

  it("with app.tenant_id set to A, only A's rows; switched to B, only B's", async () => {
    await inTransaction(async () => {
      for (const tenant of [a, b]) {
        await asApi(tenant.tenantId);
        for (const table of TENANT_TABLES) {
          expect([table, await count(table)]).toEqual([table, rowsOf[table]![tenant.tenantId]]);
          expect([table, await count(table, 'tenant_id <> $1', [tenant.tenantId])]).toEqual([table, 0]);
        }
        const other = tenant === a ? b : a;
        expect(await count('conversations', 'conversation_id = ANY($1)', [other.conversationIds])).toBe(0);
        expect(await count('api_keys', 'key_id = ANY($1)', [[other.keyId, other.spareKeyId]])).toBe(0);
      }
    });
  });

  it('the API role can write nothing: insert, update and delete are refused for its own tenant and for any other', async () => {
    await inTransaction(async () => {
      await asApi(a.tenantId);
      for (const table of TENANT_TABLES) {
        for (const tenant of [a.tenantId, b.tenantId, 'nobody-at-all']) {
          // A copy of one of A's rows (all columns valid) under the given tenant.
          const copy = `INSERT INTO ${schema}.${table} SELECT (jsonb_populate_record(t, jsonb_build_object('tenant_id', $1::text))).* FROM ${schema}.${table} t LIMIT 1`;
          expect([table, tenant, await failure(copy, [tenant])]).toEqual([table, tenant, '42501']);
        }
        expect([table, await failure(`UPDATE ${schema}.${table} SET tenant_id = tenant_id`)]).toEqual([table, '42501']);
        expect([table, await failure(`DELETE FROM ${schema}.${table}`)]).toEqual([table, '42501']);
        expect([table, await failure(`TRUNCATE ${schema}.${table}`)]).toEqual([table, '42501']);
      }
    });
    for (const table of TENANT_TABLES) {
      expect([table, await count(table, 'tenant_id = $1', [a.tenantId])]).toEqual([table, rowsOf[table]![a.tenantId]]);
      expect([table, await count(table, 'tenant_id = $1', [b.tenantId])]).toEqual([table, rowsOf[table]![b.tenantId]]);
    }
  });

  it('the API role is not superuser, has no BYPASSRLS (nor any role it belongs to), and owns none of the tables', async () => {
    const role = (await db.query<{ rolsuper: boolean; rolbypassrls: boolean }>(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1`, [API])).rows;
    expect(role).toEqual([{ rolsuper: false, rolbypassrls: false }]);
    const inherited = await db.query(`SELECT rolname FROM pg_roles WHERE pg_has_role($1, oid, 'MEMBER') AND (rolsuper OR rolbypassrls)`, [API]);
    expect(inherited.rows).toEqual([]);
    const owners = await db.query<{ tablename: string; tableowner: string; member: boolean }>(
      `SELECT tablename, tableowner, pg_has_role($2, tableowner, 'MEMBER') AS member FROM pg_tables WHERE schemaname = $1 AND tablename = ANY($3) ORDER BY tablename`,
      [schema, API, TENANT_TABLES],
    );
    expect(owners.rows.map((r) => r.tablename)).toEqual(TENANT_TABLES);
    for (const row of owners.rows) {
      expect(row.tableowner, row.tablename).not.toBe(API);
      expect(row.member, `${API} is a member of ${row.tableowner}, owner of ${row.tablename}`).toBe(false);
    }
  });

  it('row-level security is enabled and forced on every tenant table', async () => {
    const { rows } = await db.query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>(
      `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = ANY($2) ORDER BY c.relname`,
      [schema, TENANT_TABLES],
    );
    expect(rows).toEqual(TENANT_TABLES.map((relname) => ({ relname, relrowsecurity: true, relforcerowsecurity: true })));
  });

  it('role and tenant end with their transaction, committed or rolled back: the next one on the connection has neither', async () => {
    const state = async () =>
      (await db.query<{ user: string; tenant: string | null }>(`SELECT current_user AS user, current_setting('app.tenant_id', true) AS tenant`)).rows[0]!;
    const session = (await state()).user;
    expect(session).not.toBe(API);

    await db.query('BEGIN');
    await asApi(a.tenantId);
    expect(await state()).toEqual({ user: API, tenant: a.tenantId });
    await db.query('COMMIT');
    await db.query('BEGIN');
    const afterCommit = await state();
    expect(afterCommit.user).toBe(session);
    expect(afterCommit.tenant ?? '').toBe('');
    await asApi();
    for (const table of TENANT_TABLES) expect([table, await count(table)]).toEqual([table, 0]);
    await db.query('COMMIT');

    await db.query('BEGIN');
    await asApi(b.tenantId);
    await expect(db.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    await db.query('ROLLBACK');
    const afterRollback = await state();
    expect(afterRollback.user).toBe(session);
    expect(afterRollback.tenant ?? '').toBe('');
  });

  it('through the real read side: a tenant with no rows sees nothing, and each tenant sees its own', async () => {
    const reads = h.platform.reads;
    const nobody = await reads.forTenant(asTenantId('nobody-here'), async (r) => ({
      tenant: await r.tenant(), keys: await r.apiKeys({ limit: 100 }), conversations: await r.conversations({ limit: 100 }), knights: await r.knights({ limit: 100 }),
    }));
    expect(nobody).toEqual({ tenant: undefined, keys: { items: [], next: null }, conversations: { items: [], next: null }, knights: { items: [], next: null } });
    expect(await reads.forTenant(asTenantId('nobody-here'), (r) => r.overview('2026-01-01', 50))).toEqual({
      tier: undefined, usage: { messagesToday: 0, activeKnights: 0, knightMinutes: 0 }, knights: [],
    });
    for (const tenant of [a, b]) {
      const seen = await reads.forTenant(asTenantId(tenant.tenantId), async (r) => ({
        tenant: (await r.tenant())?.tenantId,
        conversations: (await r.conversations({ limit: 100 })).items.map((c) => c.conversationId).sort(),
        knights: (await r.knights({ limit: 100 })).items.map((k) => k.knightId),
        usage: await r.usage(new Date().toISOString().slice(0, 10)),
      }));
      expect(seen).toMatchObject({ tenant: tenant.tenantId, conversations: [...tenant.conversationIds].sort(), knights: [tenant.knightId] });
      expect(seen.usage.messagesToday).toBe(tenant.conversationIds.length);
      // the one-round-trip overview (the local agent's "what do I have?") says the same as the separate reads
      const day = new Date().toISOString().slice(0, 10);
      const [overview, separate] = await Promise.all([
        reads.forTenant(asTenantId(tenant.tenantId), (r) => r.overview(day, 50)),
        reads.forTenant(asTenantId(tenant.tenantId), async (r) => ({ tier: (await r.tenant())?.tier, usage: await r.usage(day), knights: (await r.knights({ limit: 50 })).items })),
      ]);
      expect(overview).toEqual(separate);
    }
  });
});
