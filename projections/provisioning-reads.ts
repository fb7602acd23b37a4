import { ROLES } from './shared/migration.ts';

/**
 * Platform-wide reads for the provisioning saga's reconciliation: across tenants, so they
 * run as the projector role (whose policy sees every row) in a transaction of their own, never as
 * the API role. Nothing here reaches an API client.
 */
export interface Tx {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}
export interface TxDb {
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

export const asProjector = <T>(db: TxDb, work: (tx: Tx) => Promise<T>) =>
  db.transaction(async (tx) => {
    await tx.query(`SELECT set_config('role', '${ROLES.projector}', true)`);
    return work(tx);
  });

/** Who owns what, as the read models see it: every knight not terminated, and every tenant's agent VM. */
export const computerOwners = (db: TxDb, schema: string) =>
  asProjector(db, async (tx) => {
    const knights = await tx.query<{ tenant_id: string; knight_id: string; status: string; vm_id: string | null; updated_ms: number }>(
      `SELECT tenant_id, knight_id, status, vm_id, (extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms
       FROM ${schema}.knights WHERE status <> 'terminated'`,
    );
    const tenants = await tx.query<{ tenant_id: string; status: string; agent_vm_status: string | null; agent_vm_request_id: string | null; agent_vm_id: string | null }>(
      `SELECT tenant_id, status, agent_vm_status, agent_vm_request_id, agent_vm_id FROM ${schema}.tenants`,
    );
    return {
      knights: knights.rows.map((r) => ({ tenantId: r.tenant_id, knightId: r.knight_id, status: r.status, vmId: r.vm_id, updatedAtMs: Number(r.updated_ms) })),
      tenants: tenants.rows.map((r) => ({
        tenantId: r.tenant_id,
        status: r.status,
        agentVmStatus: r.agent_vm_status,
        agentVmRequestId: r.agent_vm_request_id,
        agentVmId: r.agent_vm_id,
      })),
    };
  });
