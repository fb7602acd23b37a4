import { describe, expect, it } from 'vitest';
import { createEffects } from '../../adapters/provisioning/effects.ts';
import type { Vm, VmProvider } from '../../domain/ports/vm-provider.ts';

/**
 * A job polls its booting computer by providing it again. A warm computer that became ready in the
 * meantime must not be claimed then: the job's own computer (already created under its name) would be
 * left running, unowned, and a warm computer spent for nothing.
 */
describe('effects: a warm computer is not claimed for a name that already has a computer', () => {
  it('the second ProvideComputer of a booting knight keeps its own computer', async () => {
    const computers = new Map<string, Vm>();
    let n = 0;
    const vms: VmProvider = {
      create: async (name) => {
        const vm: Vm = { id: `vm-${++n}`, name, status: 'creating', url: null, createdAt: null };
        computers.set(vm.id, vm);
        return vm;
      },
      get: async (id) => computers.get(id)!,
      findByName: async (name) => [...computers.values()].find((c) => c.name === name),
      list: async () => [...computers.values()],
      remove: async (id) => void computers.delete(id),
      start: async () => undefined,
      bash: async () => ({ output: '', exitCode: 0 }),
      screenshot: async () => ({ kind: 'data', dataUrl: 'data:' }),
      classify: () => 'transient',
    };
    computers.set('warm-1', { id: 'warm-1', name: 'ocs-w-abc', status: 'running', url: null, createdAt: null });
    let warmReady = false; // the pool is empty at the first look, refilled while the knight's computer boots
    const claims = new Map<string, string>();
    const pool = {
      claim: async (owner: string) => {
        if (claims.has(owner)) return { vmId: claims.get(owner)!, name: 'ocs-w-abc' };
        if (!warmReady) return undefined;
        claims.set(owner, 'warm-1');
        return { vmId: 'warm-1', name: 'ocs-w-abc' };
      },
      claimOf: async (owner: string) => (claims.has(owner) ? { vmId: claims.get(owner)!, name: 'ocs-w-abc' } : undefined),
      release: async () => undefined,
    };
    const effects = createEffects({ vms, pool: pool as never, bridge: { package: 'x', platformUrl: 'ws://x/bridge' } });
    const name = 'ocs-k-acme.k1';
    effects.named(name);
    const first = await effects.run({ type: 'ProvideComputer', name, size: { cpu: 2, ramGb: 4 }, purpose: 'knight' }, 0);
    expect(first).toMatchObject({ type: 'ComputerSeen', vm: { id: 'vm-1', status: 'creating' } });
    warmReady = true;
    const second = await effects.run({ type: 'ProvideComputer', name, size: { cpu: 2, ramGb: 4 }, purpose: 'knight' }, 0);
    expect(second).toMatchObject({ type: 'ComputerSeen', vm: { id: 'vm-1' } });
    expect(claims.size).toBe(0);
  });
});
