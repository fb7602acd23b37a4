import { KNIGHT_STATUSES_AT_WORK } from '../../domain/knight/limits.ts';
import type { Projection, TableSpec } from './projection.ts';
import { columnsOf } from './projection.ts';

/**
 * Roles: the owner owns the tables, the projector writes them, the API reads them. The API role
 * is not the owner, not a superuser and has no BYPASSRLS; it sees a row only when its tenant_id
 * equals `app.tenant_id`, which the read side sets per transaction. RLS is enabled and forced on
 * every tenant table, so even the owner sees nothing without a policy.
 */
export const ROLES = { owner: 'ocs_owner', api: 'ocs_api', projector: 'ocs_projector' } as const;

const createRole = (role: string) => `
DO $r$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
    CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- created concurrently
END $r$;`;

/** The knights that count against knights-at-once, as an SQL list of literals. */
const KNIGHTS_AT_WORK = KNIGHT_STATUSES_AT_WORK.map((s) => `'${s}'`).join(', ');

export const rolesMigration = (): string => Object.values(ROLES).map(createRole).join('\n');

const TENANT = `tenant_id = current_setting('app.tenant_id', true)`;

/** Secondary indexes; a rebuild creates them after filling its tables, which is cheaper than keeping them up. */
export const indexDdl = (schema: string, table: TableSpec, suffix = ''): string =>
  (table.indexes ?? [])
    .map((cols, i) => `CREATE INDEX IF NOT EXISTS ${table.name}${suffix}_i${i} ON ${schema}.${table.name}${suffix} (${cols.join(', ')});`)
    .join('\n');

export const tableDdl = (schema: string, table: TableSpec, suffix = '', options = { indexes: true }): string => {
  const name = `${schema}.${table.name}${suffix}`;
  const columns = Object.entries(columnsOf(table))
    .map(([column, type]) => `${column} ${type}${column === 'tenant_id' || column === 'version' ? ' NOT NULL' : ''}`)
    .join(', ');
  const indexes = options.indexes ? indexDdl(schema, table, suffix) : '';
  // A table made by an older version gains the columns added since (null until a rebuild fills them).
  const added = Object.entries(table.columns)
    .map(([column, type]) => `ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS ${column} ${type};`)
    .join('\n');
  return `
CREATE TABLE IF NOT EXISTS ${name} (${columns}, PRIMARY KEY (${table.primaryKey.join(', ')}));
${added}
${indexes}
${tenantTableSecurity(name)}`;
};

/** What every tenant table gets: forced RLS, the API reading its tenant's rows only, the projector writing. */
const tenantTableSecurity = (name: string): string => `
ALTER TABLE ${name} OWNER TO ${ROLES.owner};
ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${name} FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON ${name};
CREATE POLICY tenant_isolation ON ${name} FOR ALL TO ${ROLES.api} USING (${TENANT}) WITH CHECK (${TENANT});
DROP POLICY IF EXISTS projector_writes ON ${name};
CREATE POLICY projector_writes ON ${name} FOR ALL TO ${ROLES.projector} USING (true) WITH CHECK (true);
REVOKE ALL ON ${name} FROM PUBLIC;
GRANT SELECT ON ${name} TO ${ROLES.api};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${name} TO ${ROLES.projector};`;

/**
 * Knight deploys being decided or appended but not yet in the knights read model, shared by every API
 * process (docs/decisions.md, "Knights-at-once holds across API processes"). Not a projection: a
 * rebuild leaves it alone. A row is held while its knight is not in the knights table and either its
 * deploy is still being decided (no position, younger than `p_pending_ms`) or its KnightRequested
 * lies past the knights checkpoint.
 *
 * Both functions run as their owner (past row-level security), so each first refuses a tenant other
 * than the session's `app.tenant_id`: the API calls them inside a transaction that sets its role and
 * tenant as a tenant read does (docs/decisions.md, "Knight places only for the session's tenant"). A
 * session with no tenant still passes in this release: processes of the release before, still running
 * during a rolling deploy, call them without one; the next release refuses it too. Nothing is held for
 * an erased tenant: its rows go with TenantErased (the projector).
 */
const knightReservationsDdl = (schema: string): string => {
  const table = `${schema}.knight_reservations`;
  const sessionTenantOnly = (fn: string) => `
  IF p_tenant IS NULL OR p_tenant IS DISTINCT FROM coalesce(nullif(current_setting('app.tenant_id', true), ''), p_tenant) THEN
    RAISE EXCEPTION '${fn}: the tenant is not the tenant of this session (app.tenant_id)' USING ERRCODE = '42501';
  END IF;`;
  const notErased = `NOT EXISTS (SELECT 1 FROM ${schema}.tenants t WHERE t.tenant_id = p_tenant AND t.status = 'erased')`;
  const held = `NOT EXISTS (SELECT 1 FROM ${schema}.knights k WHERE k.tenant_id = r.tenant_id AND k.knight_id = r.knight_id)
      AND CASE WHEN r.position IS NULL THEN r.created_at > now() - p_pending_ms * interval '1 millisecond'
               ELSE r.position > coalesce((SELECT c.position FROM ${schema}.checkpoints c WHERE c.name = 'knights'), -1) END`;
  return `
CREATE TABLE IF NOT EXISTS ${table} (tenant_id text NOT NULL, reservation_id text NOT NULL, knight_id text NOT NULL,
  position bigint, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, reservation_id));
${tenantTableSecurity(table)}

-- The tenant's knights at work plus the other knights it holds places for, and a place for this one, under a
-- per-tenant lock (taken before the count reads: a volatile function's next statement sees what the lock's
-- last holder committed), so deploys through any number of API processes are counted one after another.
CREATE OR REPLACE FUNCTION ${schema}.reserve_knight(p_tenant text, p_reservation text, p_knight text, p_pending_ms integer)
RETURNS integer LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $f$
DECLARE
  counted integer;
BEGIN${sessionTenantOnly('reserve_knight')}
  PERFORM pg_advisory_xact_lock(hashtext('knight-reservations:${schema}'), hashtext(p_tenant));
  DELETE FROM ${table} r WHERE r.tenant_id = p_tenant AND NOT (${held});
  SELECT (SELECT count(*) FROM ${schema}.knights k WHERE k.tenant_id = p_tenant AND k.status IN (${KNIGHTS_AT_WORK}))
       + (SELECT count(DISTINCT r.knight_id) FROM ${table} r WHERE r.tenant_id = p_tenant AND r.knight_id <> p_knight AND ${held})
    INTO counted;
  INSERT INTO ${table} (tenant_id, reservation_id, knight_id) SELECT p_tenant, p_reservation, p_knight WHERE ${notErased};
  RETURN counted;
END
$f$;
ALTER FUNCTION ${schema}.reserve_knight(text, text, text, integer) OWNER TO ${ROLES.projector};
REVOKE ALL ON FUNCTION ${schema}.reserve_knight(text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ${schema}.reserve_knight(text, text, text, integer) TO ${ROLES.api};

-- After the decision: nothing appended (null) gives the place back; an appended KnightRequested's position keeps it
-- until the knights projection has passed it (written again should the pending row have expired meanwhile).
CREATE OR REPLACE FUNCTION ${schema}.settle_knight_reservation(p_tenant text, p_reservation text, p_knight text, p_position bigint)
RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $f$
BEGIN${sessionTenantOnly('settle_knight_reservation')}
  IF p_position IS NULL THEN
    DELETE FROM ${table} WHERE tenant_id = p_tenant AND reservation_id = p_reservation;
  ELSE
    INSERT INTO ${table} (tenant_id, reservation_id, knight_id, position) SELECT p_tenant, p_reservation, p_knight, p_position WHERE ${notErased}
    ON CONFLICT (tenant_id, reservation_id) DO UPDATE SET position = EXCLUDED.position;
  END IF;
END
$f$;
ALTER FUNCTION ${schema}.settle_knight_reservation(text, text, text, bigint) OWNER TO ${ROLES.projector};
REVOKE ALL ON FUNCTION ${schema}.settle_knight_reservation(text, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ${schema}.settle_knight_reservation(text, text, text, bigint) TO ${ROLES.api};`;
};

export const readModelMigration = (schema: string, projections: readonly Projection[]): string => `
${rolesMigration()}
CREATE SCHEMA IF NOT EXISTS ${schema};
GRANT USAGE ON SCHEMA ${schema} TO ${ROLES.api}, ${ROLES.projector}, ${ROLES.owner};
CREATE TABLE IF NOT EXISTS ${schema}.checkpoints (name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE ${schema}.checkpoints OWNER TO ${ROLES.owner};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.checkpoints TO ${ROLES.projector};
GRANT SELECT ON ${schema}.checkpoints TO ${ROLES.api};
${projections.flatMap((p) => p.tables.map((t) => tableDdl(schema, t))).join('\n')}
${knightReservationsDdl(schema)}

-- Authentication looks a key up before any tenant is known: this function returns that one row,
-- running as the projector (whose policy sees every row), and nothing else.
CREATE OR REPLACE FUNCTION ${schema}.find_api_key(p_key_id text)
RETURNS TABLE(key_id text, tenant_id text, scope text, hash text, revoked boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $f$
  SELECT k.key_id, k.tenant_id, k.scope, k.hash, k.revoked_at IS NOT NULL FROM ${schema}.api_keys k WHERE k.key_id = p_key_id
$f$;
ALTER FUNCTION ${schema}.find_api_key(text) OWNER TO ${ROLES.projector};
REVOKE ALL ON FUNCTION ${schema}.find_api_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ${schema}.find_api_key(text) TO ${ROLES.api};

-- The operator's list of tenants (every tenant, so past row-level security): a page by tenant id,
-- nothing but the tenants table's own columns.
DROP FUNCTION IF EXISTS ${schema}.list_tenants(text, integer);
CREATE FUNCTION ${schema}.list_tenants(p_after text, p_limit integer)
RETURNS TABLE(tenant_id text, name text, email text, tier text, status text, created_at timestamptz, updated_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $f$
  SELECT t.tenant_id, t.name, t.email, t.tier, t.status, t.created_at, t.updated_at FROM ${schema}.tenants t
  WHERE p_after IS NULL OR t.tenant_id > p_after ORDER BY t.tenant_id LIMIT p_limit
$f$;
ALTER FUNCTION ${schema}.list_tenants(text, integer) OWNER TO ${ROLES.projector};
REVOKE ALL ON FUNCTION ${schema}.list_tenants(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ${schema}.list_tenants(text, integer) TO ${ROLES.api};

-- The command side's quota facts for one tenant (its id comes from the credential), in one round trip.
DROP FUNCTION IF EXISTS ${schema}.usage_counts(text, date);
-- One snapshot: the count and the usage checkpoint it reflects (the projector commits both together).
CREATE FUNCTION ${schema}.usage_counts(p_tenant text, p_day date)
RETURNS TABLE(messages_today integer, active_knights integer, usage_position bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $f$
  SELECT coalesce((SELECT u.messages FROM ${schema}.usage_daily u WHERE u.tenant_id = p_tenant AND u.day = p_day), 0),
         (SELECT count(*)::int FROM ${schema}.knights k WHERE k.tenant_id = p_tenant AND k.status IN (${KNIGHTS_AT_WORK})),
         (SELECT c.position FROM ${schema}.checkpoints c WHERE c.name = 'usage')
$f$;
ALTER FUNCTION ${schema}.usage_counts(text, date) OWNER TO ${ROLES.projector};
REVOKE ALL ON FUNCTION ${schema}.usage_counts(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ${schema}.usage_counts(text, date) TO ${ROLES.api};
`;
