import type { TableSpec } from '../../projections/shared/projection.ts';
import { columnsOf } from '../../projections/shared/projection.ts';

const cache = new Map<string, ReturnType<typeof buildTableSql>>();

/** Bulk SQL for one read-model table (built once per table and target): rows travel as one JSON array per statement. */
export const tableSql = (schema: string, table: TableSpec, suffix: string) => {
  const id = `${schema}.${table.name}${suffix}`;
  let built = cache.get(id);
  if (!built) cache.set(id, (built = buildTableSql(schema, table, suffix)));
  return built;
};

const buildTableSql = (schema: string, table: TableSpec, suffix: string) => {
  const name = `${schema}.${table.name}${suffix}`;
  const columns = columnsOf(table);
  const names = Object.keys(columns);
  const record = (cols: string[]) => cols.map((c) => `${c} ${columns[c]}`).join(', ');
  const pk = [...table.primaryKey];
  const joinOn = pk.map((c) => `t.${c} = k.${c}`).join(' AND ');
  const select = names.map((c) => (columns[c] === 'date' ? `t.${c}::text AS ${c}` : `t.${c}`)).join(', ');
  const updatable = names.filter((c) => !pk.includes(c));
  return {
    load: `SELECT ${select} FROM ${name} t JOIN json_to_recordset($1::json) AS k(${record(pk)}) ON ${joinOn}`,
    upsert:
      `INSERT INTO ${name} AS t (${names.join(', ')}) SELECT ${names.join(', ')} FROM json_to_recordset($1::json) AS x(${record(names)}) ` +
      `ON CONFLICT (${pk.join(', ')}) DO UPDATE SET ${updatable.map((c) => `${c} = EXCLUDED.${c}`).join(', ')} WHERE t.version < EXCLUDED.version`,
    /** For rows known to be new (a rebuild's creation events): no conflict handling, a third cheaper per row. */
    insert: `INSERT INTO ${name} (${names.join(', ')}) SELECT ${names.join(', ')} FROM json_to_recordset($1::json) AS x(${record(names)})`,
    remove: `DELETE FROM ${name} t USING json_to_recordset($1::json) AS k(${record(pk)}) WHERE ${joinOn}`,
    purgeTenants: `DELETE FROM ${name} WHERE tenant_id = ANY($1::text[])`,
    keyOf: pk.length === 1 ? (row: Record<string, unknown>) => String(row[pk[0]!]) : (row: Record<string, unknown>) => pk.map((c) => String(row[c])).join('\u0001'),
  };
};
