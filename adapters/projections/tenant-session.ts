import type { TenantId } from '../../domain/shared/ids.ts';
import { ROLES } from '../../projections/shared/migration.ts';
import { sqlLiteral } from '../event-store/sql/db.ts';

/**
 * The prelude of a tenant's transaction: the API role, and the tenant for row-level security (and for
 * the SECURITY DEFINER functions that refuse any other tenant, e.g. `reserve_knight`). Both with
 * is_local = true, so they end with the transaction and a pooled connection never carries a tenant
 * into the next request. The id goes in as an escaped literal (one round trip with the BEGIN).
 */
export const asTenant = (tenantId: TenantId): string =>
  `SELECT set_config('role', '${ROLES.api}', true), set_config('app.tenant_id', ${sqlLiteral(tenantId)}, true)`;
