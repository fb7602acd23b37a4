export type Query = (sql: string) => Promise<{ rows: Record<string, unknown>[] }>;

/** Every row of every table in `schemas` (or in every user schema), as text, searched for each plaintext. */
export const plaintextHits = async (query: Query, secrets: Record<string, string>, schemas?: string[]) => {
  const { rows: tables } = await query(
    `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
      ${schemas ? `AND table_schema IN (${schemas.map((s) => `'${s}'`).join(', ')})` : ''}`,
  );
  const hits: string[] = [];
  for (const { s, t } of tables as { s: string; t: string }[]) {
    const { rows } = await query(`SELECT x::text AS row FROM "${s}"."${t}" x`);
    for (const [kind, plain] of Object.entries(secrets))
      if (rows.some((r) => String(r.row).includes(plain))) hits.push(`${kind} in ${s}.${t}`);
  }
  return { hits, tables: tables.length };
};
