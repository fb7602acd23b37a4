import { describe, expect, it } from 'vitest';
import { createWakeRules } from '../../adapters/provisioning/wakes.ts';

/**
 * A tier downgrade ends only the knights beyond the new limit: knights already terminating do not
 * count against it, so a second downgrade (or the same event delivered again) ends no knight the
 * limit allows.
 */
const harness = (knights: string[], failed: string[] = [], specs: Record<string, { cpu: number; ramGb: number }> = {}) => {
  let position = 0n;
  const log: { streamId: string; type: string; position: bigint; data?: unknown }[] = [];
  const append = (streamId: string, type: string, data?: unknown) => log.push({ streamId, type, position: ++position, data });
  for (const k of knights) append(`knight-acme.${k}`, 'KnightRequested', { spec: specs[k] ?? { cpu: 2, ramGb: 4 } });
  for (const k of failed) append(`knight-acme.${k}`, 'KnightFailed');
  const store = {
    readAll: async (o: { after?: bigint; maxCount: number }) => log.filter((e) => o.after === undefined || e.position > o.after).slice(0, o.maxCount),
  };
  const codec = { storedTypes: (t: string) => [t], decodeStream: async (_category: string, events: unknown[]) => events };
  const reasonsBy: Record<string, string> = {};
  const shell = {
    handle: async (_decider: unknown, env: { streamId: string; command: { type: string; reason?: string } }) => {
      reasonsBy[env.streamId] ??= env.command.reason ?? '';
      if (!log.some((e) => e.streamId === env.streamId && e.type === 'KnightTerminationRequested')) append(env.streamId, 'KnightTerminationRequested');
      return {};
    },
  };
  const rules = createWakeRules({ store: store as never, codec: codec as never, shell: shell as never, clock: () => new Date() });
  const terminated = () => new Set(log.filter((e) => e.type === 'KnightTerminationRequested').map((e) => e.streamId));
  const reasons = () => reasonsBy;
  const changed = (from: string, to: string) =>
    rules({ streamId: 'tenant-acme', type: 'TenantTierChanged', data: { from, to, at: '' }, metadata: {} } as never);
  return { terminated, changed, reasons };
};

describe('tier downgrade', () => {
  it('the same TenantTierChanged delivered twice keeps the knights the new tier allows', async () => {
    const h = harness(['a', 'b', 'c']); // pro: 3 knights
    await h.changed('pro', 'free');
    expect(h.terminated().size).toBe(2); // free allows 1
    await h.changed('pro', 'free'); // redelivered (crash before the checkpoint, or a batch retried)
    expect(h.terminated().size).toBe(2);
  });

  it('enterprise → pro → free in a row ends all but one knight, not all of them', async () => {
    const h = harness(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    await h.changed('enterprise', 'pro');
    expect(h.terminated().size).toBe(2); // pro allows 5
    await h.changed('pro', 'free');
    expect(h.terminated().size).toBe(6); // free allows 1
  });

  it('ends the failed knights before a working one: a downgrade keeps the knight that still works', async () => {
    const h = harness(['a', 'b'], ['a']); // pro: a (older) failed, b (newer) working
    await h.changed('pro', 'free');
    expect(h.terminated()).toEqual(new Set(['knight-acme.a']));
  });

  it('ends a knight larger than the new tier allows, though the count fits; the others stay', async () => {
    const h = harness(['big', 'small'], [], { big: { cpu: 8, ramGb: 32 } }); // pro: big (older) and small
    await h.changed('pro', 'free'); // free: 1 knight of at most 2 CPUs and 8 GB
    expect(h.terminated()).toEqual(new Set(['knight-acme.big']));
    expect(h.reasons()['knight-acme.big']).toBe('the free tier allows knights of at most 2 CPUs and 8 GB RAM');
    const e = harness(['huge', 'fine'], [], { huge: { cpu: 16, ramGb: 64 } });
    await e.changed('enterprise', 'pro'); // pro allows 5 knights, each of at most 8 CPUs and 32 GB
    expect(e.terminated()).toEqual(new Set(['knight-acme.huge']));
  });
});
