import { ownerOfComputer } from './names.ts';

/**
 * Reconciliation, decided: which of the workspace's computers are orphans of this platform (to
 * delete), which knights lost their computer (to mark failed) and which ready agent VMs did. Computers whose names are not
 * ours are never touched. Anything younger than `graceMs` is left alone: its owner's events may
 * not have reached the read models yet.
 */
export interface InventoryComputer {
  readonly id: string;
  readonly name: string;
  readonly createdAtMs: number | null;
}

export interface KnownKnight {
  readonly tenantId: string;
  readonly knightId: string;
  readonly status: string;
  readonly vmId: string | null;
  readonly updatedAtMs: number;
}

export interface KnownTenant {
  readonly tenantId: string;
  readonly status: string;
  readonly agentVmStatus: string | null;
  readonly agentVmRequestId: string | null;
  readonly agentVmId: string | null;
}

export interface ReconcileInput {
  readonly prefix: string;
  readonly now: number;
  readonly graceMs: number;
  readonly inventory: readonly InventoryComputer[];
  readonly knights: readonly KnownKnight[];
  readonly tenants: readonly KnownTenant[];
  /** Names of the warm pool's computers (warming or ready to claim). */
  readonly warm: ReadonlySet<string>;
}

export interface ReconcileDecision {
  readonly orphans: readonly InventoryComputer[];
  readonly vanished: readonly KnownKnight[];
  /** Live tenants whose ready agent VM's computer is not in the inventory (to confirm, then mark failed: vm_lost). */
  readonly lostAgents: readonly (KnownTenant & { readonly agentVmId: string; readonly agentVmRequestId: string })[];
}

const LIVE_KNIGHT = new Set(['requested', 'provisioning', 'provisioned', 'working']);
const LIVE_AGENT = new Set(['requested', 'ready']);

export const reconcile = (input: ReconcileInput): ReconcileDecision => {
  const knights = new Map(input.knights.map((k) => [`${k.tenantId}.${k.knightId}`, k]));
  const tenants = new Map(input.tenants.map((t) => [t.tenantId, t]));
  const liveTenant = (tenantId: string) => {
    const t = tenants.get(tenantId);
    return t && (t.status === 'active' || t.status === 'suspended') ? t : undefined;
  };
  // Computers in use by id: a claimed warm computer keeps its warm name.
  const inUse = new Set<string>();
  for (const k of input.knights) if (k.vmId && LIVE_KNIGHT.has(k.status) && liveTenant(k.tenantId)) inUse.add(k.vmId);
  for (const t of input.tenants) if (t.agentVmId && t.agentVmStatus === 'ready' && liveTenant(t.tenantId)) inUse.add(t.agentVmId);

  const wanted = (c: InventoryComputer): boolean => {
    if (inUse.has(c.id)) return true;
    const owner = ownerOfComputer(input.prefix, c.name)!;
    switch (owner.kind) {
      case 'warm':
        return input.warm.has(c.name);
      case 'knight': {
        const k = knights.get(`${owner.tenantId}.${owner.knightId}`);
        return !!k && LIVE_KNIGHT.has(k.status) && !!liveTenant(owner.tenantId) && (k.vmId === null || k.vmId === c.id);
      }
      case 'agent': {
        const t = liveTenant(owner.tenantId);
        return !!t && t.agentVmRequestId === owner.requestId && LIVE_AGENT.has(t.agentVmStatus ?? '') && (t.agentVmId === null || t.agentVmId === c.id);
      }
    }
  };
  const settled = (atMs: number | null) => atMs === null || input.now - atMs >= input.graceMs;
  const orphans = input.inventory.filter((c) => ownerOfComputer(input.prefix, c.name) && !wanted(c) && settled(c.createdAtMs));
  const present = new Set(input.inventory.map((c) => c.id));
  // an erased tenant's knights are being terminated anyway (and its key may be gone)
  const vanished = input.knights.filter(
    (k) =>
      (k.status === 'provisioned' || k.status === 'working') && k.vmId !== null && !present.has(k.vmId) && settled(k.updatedAtMs) && !!liveTenant(k.tenantId),
  );
  // a ready agent VM was running before AgentVmReady was recorded, so it is in any inventory listed after
  // the owners were read, unless deleted since; a computer in a state we do not know is present, not lost
  const lostAgents = input.tenants.flatMap((t) =>
    t.agentVmStatus === 'ready' && t.agentVmId !== null && t.agentVmRequestId !== null && !present.has(t.agentVmId) && liveTenant(t.tenantId)
      ? [{ ...t, agentVmId: t.agentVmId, agentVmRequestId: t.agentVmRequestId }]
      : [],
  );
  return { orphans, vanished, lostAgents };
};
