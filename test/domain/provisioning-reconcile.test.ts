import { describe, expect, it } from 'vitest';
import { agentComputerName, knightComputerName, ownerOfComputer, reconcile, warmComputerName } from '../../domain/provisioning/index.ts';
import type { KnownKnight, KnownTenant, ReconcileInput } from '../../domain/provisioning/index.ts';
import { epochMs } from '../../domain/shared/time.ts';

const now = 1_000_000_000;
const old = now - 3_600_000;
const tenant = (tenantId: string, extra: Partial<KnownTenant> = {}): KnownTenant => ({
  tenantId, status: 'active', agentVmStatus: null, agentVmRequestId: null, agentVmId: null, ...extra,
});
const knight = (knightId: string, status: string, vmId: string | null = null): KnownKnight => ({ tenantId: 'acme', knightId, status, vmId, updatedAtMs: old });
const base: ReconcileInput = { prefix: 'ocs', now, graceMs: 600_000, inventory: [], knights: [], tenants: [tenant('acme')], warm: new Set() };
const computer = (id: string, name: string, createdAtMs: number | null = old) => ({ id, name, createdAtMs });

describe('computer names', () => {
  it('carry their owner and read back', () => {
    expect(ownerOfComputer('ocs', knightComputerName('ocs', 'acme-co', 'k-1'))).toEqual({ kind: 'knight', tenantId: 'acme-co', knightId: 'k-1' });
    expect(ownerOfComputer('ocs', agentComputerName('ocs', 'acme', 'agent-1'))).toEqual({ kind: 'agent', tenantId: 'acme', requestId: 'agent-1' });
    expect(ownerOfComputer('ocs', warmComputerName('ocs', 'a1b2'))).toEqual({ kind: 'warm', id: 'a1b2' });
    for (const foreign of ['my-laptop', 'ocsx-k-acme.k-1', 'ocs-z-acme.k', 'ocs-k-acme', 'ocs-k-Acme.k-1', 'other-k-acme.k-1'])
      expect(ownerOfComputer('ocs', foreign), foreign).toBeUndefined();
  });
});

describe('reconciliation', () => {
  it('deletes computers of unknown, failed and terminated knights, and never anyone else’s', () => {
    const inventory = [
      computer('c1', 'ocs-k-acme.live'),
      computer('c2', 'ocs-k-acme.failed'),
      computer('c3', 'ocs-k-acme.gone'),
      computer('c4', 'ocs-k-acme.nobody'),
      computer('c5', 'customer-desktop'),
      computer('c6', 'ocs-k-acme.ended'),
    ];
    const knights = [knight('live', 'working', 'c1'), knight('failed', 'failed'), knight('gone', 'terminated'), knight('ended', 'terminating')];
    const { orphans } = reconcile({ ...base, inventory, knights });
    expect(orphans.map((c) => c.id).sort()).toEqual(['c2', 'c3', 'c4', 'c6']);
  });
  it('keeps young computers whose owner the read models may not know yet', () => {
    const { orphans } = reconcile({ ...base, inventory: [computer('c1', 'ocs-k-acme.new', now - 1_000), computer('c2', 'ocs-k-acme.newer', null)] });
    expect(orphans.map((c) => c.id)).toEqual(['c2']);
  });
  it('keeps a second computer of a knight only if it is the recorded one', () => {
    const inventory = [computer('c1', 'ocs-k-acme.k'), computer('c2', 'ocs-k-acme.k')];
    expect(reconcile({ ...base, inventory, knights: [knight('k', 'provisioned', 'c1')] }).orphans.map((c) => c.id)).toEqual(['c2']);
  });
  it('keeps warm computers of the pool and claimed ones in use, deletes other warm-named ones', () => {
    const inventory = [computer('w1', 'ocs-w-1'), computer('w2', 'ocs-w-2'), computer('w3', 'ocs-w-3'), computer('w4', 'ocs-w-4')];
    const tenants = [tenant('acme', { agentVmStatus: 'ready', agentVmRequestId: 'agent-1', agentVmId: 'w3' })];
    const { orphans } = reconcile({ ...base, inventory, tenants, knights: [knight('k', 'working', 'w2')], warm: new Set(['ocs-w-1']) });
    expect(orphans.map((c) => c.id)).toEqual(['w4']);
  });
  it('keeps the current agent VM of a live tenant, deletes a failed one’s and an erased tenant’s', () => {
    const inventory = [computer('a1', 'ocs-a-acme.agent-1'), computer('a2', 'ocs-a-acme.r-2'), computer('b1', 'ocs-a-gone.agent-1')];
    const tenants = [tenant('acme', { agentVmStatus: 'requested', agentVmRequestId: 'r-2' }), tenant('gone', { status: 'erased', agentVmStatus: 'ready', agentVmRequestId: 'agent-1', agentVmId: 'b1' })];
    expect(reconcile({ ...base, inventory, tenants }).orphans.map((c) => c.id).sort()).toEqual(['a1', 'b1']);
  });
  it('marks provisioned or working knights whose computer vanished', () => {
    const knights = [knight('ok', 'working', 'c1'), knight('lost', 'provisioned', 'c9'), knight('ending', 'terminating', 'c8'), knight('fresh', 'working', 'c7')];
    const fresh = { ...knights[3]!, updatedAtMs: now - 1_000 };
    const { vanished } = reconcile({ ...base, inventory: [computer('c1', 'ocs-k-acme.ok')], knights: [...knights.slice(0, 3), fresh] });
    expect(vanished.map((k) => k.knightId)).toEqual(['lost']);
    const erased = reconcile({ ...base, tenants: [tenant('acme', { status: 'erased' })], knights: [knight('lost', 'provisioned', 'c9')] });
    expect(erased.vanished).toEqual([]);
  });
});

describe('reconciliation of ready agent VMs', () => {
  it('finds a live tenant’s ready agent VM missing from the inventory; not one present (whatever its state), requested or of an erased tenant', () => {
    const tenants = [
      tenant('lost', { agentVmStatus: 'ready', agentVmRequestId: 'agent-1', agentVmId: 'v1' }),
      tenant('here', { agentVmStatus: 'ready', agentVmRequestId: 'agent-1', agentVmId: 'v2' }),
      tenant('asleep', { status: 'suspended', agentVmStatus: 'ready', agentVmRequestId: 'agent-2', agentVmId: 'v3' }),
      tenant('coming', { agentVmStatus: 'requested', agentVmRequestId: 'agent-1' }),
      tenant('erased', { status: 'erased', agentVmStatus: 'ready', agentVmRequestId: 'agent-1', agentVmId: 'v5' }),
      tenant('failed', { agentVmStatus: 'failed', agentVmRequestId: 'agent-1', agentVmId: 'v6' }),
    ];
    const { lostAgents } = reconcile({ ...base, tenants, inventory: [computer('v2', 'ocs-a-here.agent-1')] });
    expect(lostAgents.map((t) => [t.tenantId, t.agentVmRequestId, t.agentVmId])).toEqual([
      ['lost', 'agent-1', 'v1'],
      ['asleep', 'agent-2', 'v3'],
    ]);
  });
});

describe('epochMs', () => {
  it('reads ISO timestamps as Date does, without Date', () => {
    for (const iso of ['1970-01-01T00:00:00.000Z', '2000-02-29T23:59:59.999Z', '2026-03-01T10:00:00.000Z', '1969-12-31T23:59:59.500Z', '2400-12-31T12:00:00Z'])
      expect(epochMs(iso), iso).toBe(Date.parse(iso));
    expect(epochMs('2026-03-01 10:00')).toBeNaN();
  });
});
