import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { knightReservations } from '../../adapters/projections/knight-reservations.ts';
import { migrateReadModels } from '../../adapters/projections/projector.ts';
import type { KnightId, TenantId } from '../../domain/index.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/** The shared knight places, on PostgreSQL (the api replicas) and on PGlite (the embedded default) alike. */
const databases: [string, () => Promise<{ db: SqlDb; schema: string; close(): Promise<void> }>][] = [
  [
    'PostgreSQL',
    async () => {
      const schema = uniqueSchema('kres');
      const db = pgPoolDb(TEST_DATABASE_URL, 8);
      return { db, schema, close: async () => (await db.close(), await dropSchema(schema)) };
    },
  ],
  [
    'PGlite',
    async () => {
      const pg = await PGlite.create();
      return { db: pgliteDb(pg, { ownsInstance: true }), schema: 'rm', close: () => pg.close() };
    },
  ],
];

describe.each(databases)('knight reservations on %s', (_, open) => {
  let db: SqlDb;
  let schema: string;
  let close: () => Promise<void>;
  const tenant = () => `t-${randomUUID().slice(0, 8)}` as TenantId;
  const knight = () => randomUUID() as KnightId;
  const reserve = (pendingMs?: number) => knightReservations({ db, schema, newId: randomUUID, ...(pendingMs === undefined ? {} : { pendingMs }) });
  /** What the knights projector would have written: the knight's row, and the checkpoint past it. */
  const projected = async (tenantId: TenantId, knightId: KnightId, status: string, position: bigint) => {
    await db.query(`INSERT INTO ${schema}.knights (tenant_id, knight_id, status, version) VALUES ($1, $2, $3, 1)`, [tenantId, knightId, status]);
    await db.query(
      `INSERT INTO ${schema}.checkpoints (name, position) VALUES ('knights', $1) ON CONFLICT (name) DO UPDATE SET position = greatest(checkpoints.position, EXCLUDED.position)`,
      [String(position)],
    );
  };

  beforeAll(async () => {
    ({ db, schema, close } = await open());
    await migrateReadModels(db, schema, PROJECTIONS);
  });
  afterAll(() => close());

  it('counts the places held for other knights, not a second place for the same knight, and gives a place back when nothing was appended', async () => {
    const t = tenant();
    const [k1, k2] = [knight(), knight()];
    const first = await reserve()(t, k1);
    expect(first.count).toBe(0);
    expect((await reserve()(t, k2)).count).toBe(1); // k1 is being decided
    expect((await reserve()(t, k1)).count).toBe(1); // a repeat of k1 (an Idempotency-Key replay) sees k2, not itself
    expect((await reserve()(tenant(), knight())).count).toBe(0); // another tenant's places are its own
    await first.settle(undefined);
  });

  it('an appended knight keeps its place until the knights projection has it; then the read model counts it, by its status', async () => {
    const t = tenant();
    const k1 = knight();
    await (await reserve()(t, k1)).settle(100n);
    const probe = async () => {
      const slot = await reserve()(t, knight());
      await slot.settle(undefined);
      return slot.count;
    };
    expect(await probe()).toBe(1);
    await projected(t, k1, 'requested', 100n);
    expect(await probe()).toBe(1); // now counted as a knight at work, not twice
    await db.query(`UPDATE ${schema}.knights SET status = 'terminating' WHERE tenant_id = $1 AND knight_id = $2`, [t, k1]);
    expect(await probe()).toBe(0);
  });

  it('a place whose deploy never settled (its process ended) is held only for the pending time', async () => {
    const t = tenant();
    await reserve()(t, knight()); // never settled
    expect((await reserve()(t, knight())).count).toBe(1);
    const u = tenant();
    await reserve(0)(u, knight()); // never settled, and already expired for the next transaction
    const after = await reserve(0)(u, knight());
    expect(after.count).toBe(0);
  });

  it("refuses a place for another tenant than the session's and changes nothing", async () => {
    const [a, b] = [tenant(), tenant()];
    const reservationOfB = randomUUID();
    const heldByB = await knightReservations({ db, schema, newId: () => reservationOfB })(b, knight());
    const placesOf = async (t: TenantId) =>
      (await db.query<{ reservation_id: string; position: string | null }>(`SELECT reservation_id, position FROM ${schema}.knight_reservations WHERE tenant_id = $1`, [t])).rows;
    const before = await placesOf(b);
    expect(before).toEqual([{ reservation_id: reservationOfB, position: null }]);
    const sessionOfA = `SELECT set_config('role', 'ocs_api', true), set_config('app.tenant_id', '${a}', true)`;
    const asA = (sql: string, params: unknown[]) => db.transaction((tx) => tx.query(sql, params), undefined, sessionOfA);
    // the API's role, its session set to tenant A, asks in B's name: to hold a place, to give B's back, to record one
    await expect(asA(`SELECT ${schema}.reserve_knight($1, $2, $3, $4)`, [b, randomUUID(), knight(), 120_000])).rejects.toThrow(/not the tenant of this session/);
    await expect(asA(`SELECT ${schema}.settle_knight_reservation($1, $2, $3, $4)`, [b, reservationOfB, knight(), null])).rejects.toThrow(/not the tenant of this session/);
    await expect(asA(`SELECT ${schema}.settle_knight_reservation($1, $2, $3, $4)`, [b, randomUUID(), knight(), '7'])).rejects.toThrow(/not the tenant of this session/);
    expect(await placesOf(b)).toEqual(before);
    expect(await placesOf(a)).toEqual([]);
    // B's own session still reserves and settles
    expect((await reserve()(b, knight())).count).toBe(1);
    await heldByB.settle(undefined);
    expect((await placesOf(b)).map((p) => p.reservation_id)).not.toContain(reservationOfB);
  });

  it('during a rolling deploy, a process of the release before (no tenant in its session) still holds and gives back places', async () => {
    const t = tenant();
    const k = knight();
    // as the release before called them: no transaction, no role, no app.tenant_id
    const reservation = randomUUID();
    const old = await db.query<{ counted: number }>(`SELECT ${schema}.reserve_knight($1, $2, $3, $4) AS counted`, [t, reservation, k, 120_000]);
    expect(Number(old.rows[0]!.counted)).toBe(0);
    expect((await reserve()(t, knight())).count).toBe(1); // a new process counts the old one's place
    await db.query(`SELECT ${schema}.settle_knight_reservation($1, $2, $3, $4)`, [t, reservation, k, null]);
    expect((await reserve()(t, knight())).count).toBe(1); // given back: only the new process's place is left
  });

  it("a refusal by the functions (the session's tenant is another) is a 503 to retry, not a 500", async () => {
    const [a, b] = [tenant(), tenant()];
    // a session bound to another tenant than the one asked for, as a process and functions of different releases could make it
    const mismatched: SqlDb = { ...db, transaction: (fn, beforeCommit, _prelude) => db.transaction(fn, beforeCommit, `SELECT set_config('role', 'ocs_api', true), set_config('app.tenant_id', '${a}', true)`) };
    const refused = await knightReservations({ db: mismatched, schema, newId: randomUUID })(b, knight()).catch((error: unknown) => error);
    expect(refused).toMatchObject({ kind: 'unavailable', code: 'knight_places_unavailable' });
    expect(await db.query(`SELECT 1 FROM ${schema}.knight_reservations WHERE tenant_id = $1`, [b])).toMatchObject({ rows: [] });
  });

  it('deploys racing on many connections are counted one after another', async () => {
    const t = tenant();
    const slots = await Promise.all(Array.from({ length: 12 }, () => reserve()(t, knight())));
    expect(slots.map((s) => s.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });
});
