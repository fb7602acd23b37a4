import type { Decoded } from '../../domain/events.ts';
import { ROLES } from '../../projections/shared/migration.ts';
import type { Projection, Row } from '../../projections/shared/projection.ts';
import type { Querier } from '../event-store/sql/db.ts';
import { dropErasedTenantsReservations } from './knight-reservations.ts';
import { tableSql } from './sql.ts';

export interface Target {
  readonly schema: string;
  /** '' for the live tables; '__next' while a rebuild builds beside them. */
  readonly suffix: string;
}

const checkpointName = (projection: Projection, target: Target) => `${projection.name}${target.suffix}`;

const DELETED = Symbol('deleted');

export interface ApplyOptions {
  /**
   * Write rows that a creation event made in this batch (never loaded) with a plain INSERT: about
   * 25% less work per row for PostgreSQL than the upsert. Only where such rows cannot exist yet
   * (a rebuild's empty tables); should one exist after all (a creation event repeated in the log),
   * the statement is rolled back to its savepoint and the rows go through the upsert.
   */
  readonly insertNewRows?: boolean;
}

const SQL_UNIQUE_VIOLATION = '23505';

const insertNew = async (tx: Querier, sql: ReturnType<typeof tableSql>, rows: readonly Row[]): Promise<boolean> => {
  await tx.query('SAVEPOINT new_rows');
  try {
    await tx.query(sql.insert, [JSON.stringify(rows)]);
  } catch (error) {
    if ((error as { code?: unknown }).code !== SQL_UNIQUE_VIOLATION) throw error;
    await tx.query('ROLLBACK TO SAVEPOINT new_rows');
    return false;
  }
  await tx.query('RELEASE SAVEPOINT new_rows');
  return true;
};

/** Folds one projection's share of a batch into its tables: load touched rows, fold in memory, write once. */
const applyProjection = async (tx: Querier, target: Target, projection: Projection, events: readonly Decoded[], options: ApplyOptions) => {
  for (const reducer of projection.reducers) {
    const table = projection.tables.find((t) => t.name === reducer.table)!;
    const sql = tableSql(target.schema, table, target.suffix);
    const handles = new Set<string>(reducer.handles);
    const relevant = events.filter((e) => handles.has(e.type));
    if (relevant.length === 0) continue;
    const keyed = relevant.flatMap((event) => {
      const key = reducer.key(event);
      return key ? [{ event, key, k: sql.keyOf(key) }] : [];
    });
    const toLoad = new Map<string, Row>();
    const created = new Set<string>(); // first touched by an event that makes its row: not loaded
    for (const { event, key, k } of keyed) {
      if (toLoad.has(k) || created.has(k)) continue;
      if (reducer.loadsRow?.(event) ?? true) toLoad.set(k, key);
      else created.add(k);
    }
    const rows = new Map<string, Row | typeof DELETED>();
    if (toLoad.size > 0) {
      const { rows: loaded } = await tx.query<Row>(sql.load, [JSON.stringify([...toLoad.values()])]);
      for (const row of loaded) rows.set(sql.keyOf(row), row);
    }
    const changed = new Set<string>();
    for (const { event, k } of keyed) {
      const current = rows.get(k);
      const next = reducer.apply(current === DELETED ? undefined : current, event);
      if (next === undefined) continue;
      if (next !== null) next.version = String(event.position); // reducers return fresh rows
      rows.set(k, next === null ? DELETED : next);
      changed.add(k);
    }
    const upserts: Row[] = [];
    const inserts: Row[] = [];
    const deletes: Row[] = [];
    for (const k of changed) {
      const row = rows.get(k)!;
      if (row === DELETED) deletes.push(keyed.find((x) => x.k === k)!.key);
      else if (options.insertNewRows && created.has(k)) inserts.push(row);
      else upserts.push(row);
    }
    if (inserts.length > 0 && !(await insertNew(tx, sql, inserts))) upserts.push(...inserts);
    if (upserts.length > 0) await tx.query(sql.upsert, [JSON.stringify(upserts)]);
    if (deletes.length > 0) await tx.query(sql.remove, [JSON.stringify(deletes)]);
  }
  const erased = events.filter((e) => e.type === 'TenantErased').map((e) => e.metadata.tenantId);
  if (erased.length > 0)
    for (const table of projection.tables.filter((t) => t.name !== 'tenants'))
      await tx.query(tableSql(target.schema, table, target.suffix).purgeTenants, [erased]);
};

/**
 * Applies a batch to every projection and moves each one's checkpoint, all in one transaction.
 * The checkpoint rows are locked first, so a second projector waits and then skips what this one
 * applied: a crash anywhere neither loses nor doubles an event.
 */
export const applyBatch = async (
  tx: Querier,
  target: Target,
  projections: readonly Projection[],
  events: readonly Decoded[],
  options: ApplyOptions = {},
): Promise<void> => {
  if (events.length === 0) return;
  const names = projections.map((p) => checkpointName(p, target));
  // One round trip: become the projector for this transaction and lock the checkpoint rows.
  let { rows } = await tx.query<{ name: string; position: string }>(
    `SELECT set_config('role', '${ROLES.projector}', true) AS role, name, position FROM ${target.schema}.checkpoints
      WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE`,
    [names],
  );
  if (rows.length < names.length) {
    // first batch of a projection: the select above returned no row to run set_config on
    await tx.query(`SELECT set_config('role', '${ROLES.projector}', true)`);
    await tx.query(
      `INSERT INTO ${target.schema}.checkpoints (name, position) SELECT unnest($1::text[]), -1 ON CONFLICT (name) DO NOTHING`,
      [names],
    );
    ({ rows } = await tx.query<{ name: string; position: string }>(
      `SELECT name, position FROM ${target.schema}.checkpoints WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE`,
      [names],
    ));
  }
  const checkpoints = new Map(rows.map((r) => [r.name, BigInt(r.position)]));
  const last = events[events.length - 1]!.position;
  for (const projection of projections) {
    const from = checkpoints.get(checkpointName(projection, target)) ?? -1n;
    if (from >= last) continue;
    await applyProjection(tx, target, projection, from < 0n ? events : events.filter((e) => e.position > from), options);
  }
  // The knight places are no projection (a rebuild leaves the table alone), but every batch drops an erased
  // tenant's, a rebuild's too: its swap moves the live checkpoints past the events it applied, so a
  // TenantErased between the served and built positions reaches no live batch. The delete is idempotent.
  await dropErasedTenantsReservations(tx, target.schema, events.filter((e) => e.type === 'TenantErased').map((e) => e.metadata.tenantId));
  await tx.query(
    `UPDATE ${target.schema}.checkpoints SET position = $2, updated_at = now() WHERE name = ANY($1::text[]) AND position < $2`,
    [names, String(last)],
  );
};
