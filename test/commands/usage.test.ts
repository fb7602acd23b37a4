import { describe, expect, it } from 'vitest';
import type { UsageLookup } from '../../commands/context.ts';
import { countingUsage } from '../../commands/usage.ts';
import type { TenantId } from '../../domain/shared/ids.ts';

const acme = 'acme' as TenantId;
const globex = 'globex' as TenantId;
const DAY = '2026-11-30';

/** A read model whose daily count the test sets, and which counts how often it is asked. */
const readModel = () => {
  const counts = new Map<string, number>();
  let reads = 0;
  let gate: Promise<void> | undefined;
  let failNext = false;
  const lookup: UsageLookup = {
    async messagesToday(tenantId, day) {
      reads += 1;
      if (gate) await gate;
      if (failNext) {
        failNext = false;
        throw new Error('read model unavailable');
      }
      return counts.get(`${tenantId}|${day}`) ?? 0;
    },
    activeKnights: async () => 3,
  };
  return {
    lookup,
    set: (tenantId: TenantId, n: number) => counts.set(`${tenantId}|${DAY}`, n),
    get reads() {
      return reads;
    },
    hold() {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    failOnce: () => (failNext = true),
  };
};

describe('countingUsage: daily message counts without a read per message', () => {
  it('adds the messages this process accepted to the read model figure, reading it once within maxAge', async () => {
    const model = readModel();
    let now = 0;
    const usage = countingUsage(model.lookup, { maxAgeMs: 1_000, now: () => now });
    model.set(acme, 10);
    expect(await usage.messagesToday(acme, DAY)).toBe(10);
    for (let i = 0; i < 5; i++) usage.messageAccepted!(acme, DAY);
    now = 999;
    expect(await usage.messagesToday(acme, DAY)).toBe(15);
    expect(await usage.messagesToday(globex, DAY)).toBe(0); // other tenants are counted apart
    expect(model.reads).toBe(2);
  });

  it('after maxAge reads again, and does not count twice what the read model has caught up with', async () => {
    const model = readModel();
    let now = 0;
    const usage = countingUsage(model.lookup, { maxAgeMs: 1_000, now: () => now });
    model.set(acme, 10);
    await usage.messagesToday(acme, DAY);
    for (let i = 0; i < 4; i++) usage.messageAccepted!(acme, DAY);
    model.set(acme, 14); // the projector applied those 4
    now = 1_001;
    expect(await usage.messagesToday(acme, DAY)).toBe(14);
    expect(model.reads).toBe(2);
  });

  it('messages accepted while a read is in flight still count after it (errs on the safe side)', async () => {
    const model = readModel();
    let now = 0;
    const usage = countingUsage(model.lookup, { maxAgeMs: 1_000, now: () => now });
    model.set(acme, 10);
    await usage.messagesToday(acme, DAY);
    now = 2_000;
    const release = model.hold();
    const reading = usage.messagesToday(acme, DAY);
    usage.messageAccepted!(acme, DAY); // accepted during the read: the read model may not have it yet
    release();
    expect(await reading).toBe(11);
  });

  it('concurrent commands of a cold tenant share one read', async () => {
    const model = readModel();
    model.set(acme, 7);
    const usage = countingUsage(model.lookup, { maxAgeMs: 1_000, now: () => 0 });
    const release = model.hold();
    const answers = Promise.all(Array.from({ length: 20 }, () => usage.messagesToday(acme, DAY)));
    release();
    expect(await answers).toEqual(Array(20).fill(7));
    expect(model.reads).toBe(1);
  });

  it('a failed read fails that command and the next one reads again', async () => {
    const model = readModel();
    model.set(acme, 5);
    const usage = countingUsage(model.lookup, { maxAgeMs: 1_000, now: () => 0 });
    model.failOnce();
    await expect(usage.messagesToday(acme, DAY)).rejects.toThrow('read model unavailable');
    expect(await usage.messagesToday(acme, DAY)).toBe(5);
  });

  it('days are counted apart, knight counts pass through', async () => {
    const model = readModel();
    model.set(acme, 50);
    const usage = countingUsage(model.lookup, { maxAgeMs: 1_000, now: () => 0 });
    await usage.messagesToday(acme, DAY);
    usage.messageAccepted!(acme, DAY);
    expect(await usage.messagesToday(acme, '2026-12-01')).toBe(0);
    expect(await usage.activeKnights(acme)).toBe(3);
  });
});
