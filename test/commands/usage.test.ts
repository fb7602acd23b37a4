import { describe, expect, it } from 'vitest';
import { countingUsage } from '../../commands/usage.ts';
import type { ProjectedCount } from '../../commands/usage.ts';
import type { TenantId } from '../../domain/shared/ids.ts';

const acme = 'acme' as TenantId;
const globex = 'globex' as TenantId;
const DAY = '2026-11-30';

/**
 * A usage read model: the projector "applies" messages up to a position, and the count it
 * answers with is what it has applied, with that position — the way the SQL function answers.
 */
const readModel = () => {
  const accepted: Array<{ tenantId: TenantId; day: string; position: bigint }> = [];
  let applied: bigint | undefined;
  let reads = 0;
  let gate: Promise<void> | undefined;
  let failNext = false;
  let nextPosition = 100n;
  return {
    accept(tenantId: TenantId, day = DAY) {
      nextPosition += 10n;
      accepted.push({ tenantId, day, position: nextPosition });
      return nextPosition;
    },
    /** The projector catches up with everything accepted so far (or up to `position`). */
    project(position: bigint = nextPosition) {
      applied = position;
    },
    async read(tenantId: TenantId, day: string): Promise<ProjectedCount> {
      reads += 1;
      const snapshot = applied;
      if (gate) await gate;
      if (failNext) {
        failNext = false;
        throw new Error('read model unavailable');
      }
      const messages = accepted.filter((a) => a.tenantId === tenantId && a.day === day && snapshot !== undefined && a.position <= snapshot).length;
      return { messages, position: snapshot };
    },
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

const counting = (model: ReturnType<typeof readModel>, now: () => number) =>
  countingUsage({ messagesToday: (t, d) => model.read(t, d), activeKnights: async () => 3, maxAgeMs: 1_000, now });

/** A message posted through this process: reserved, appended (the log gives it a position), settled. */
const post = async (model: ReturnType<typeof readModel>, usage: ReturnType<typeof counting>, tenantId = acme, day = DAY) => {
  const slot = await usage.reserveMessage!(tenantId, day);
  slot.settle(model.accept(tenantId, day));
  return slot.count;
};

describe('countingUsage: daily message counts without a read per message', () => {
  it('adds what this process accepted to the projected count, reading the read model once within maxAge', async () => {
    const model = readModel();
    let now = 0;
    const usage = counting(model, () => now);
    for (let i = 0; i < 10; i++) model.accept(acme); // accepted earlier, elsewhere
    model.project();
    expect(await usage.messagesToday(acme, DAY)).toBe(10);
    for (let i = 0; i < 5; i++) await post(model, usage);
    now = 999;
    expect(await usage.messagesToday(acme, DAY)).toBe(15);
    expect(await usage.messagesToday(globex, DAY)).toBe(0); // tenants are counted apart
    expect(model.reads).toBe(2);
  });

  it('a re-read while the projector lags keeps counting the messages it has not applied yet', async () => {
    const model = readModel();
    let now = 0;
    const usage = counting(model, () => now);
    model.project();
    await usage.messagesToday(acme, DAY);
    for (let i = 0; i < 3; i++) await post(model, usage);
    now = 1_001; // stale: the next command reads again, but the projector has applied nothing new
    expect(await usage.messagesToday(acme, DAY)).toBe(3);
    model.project(); // now it has them all: counted once, not twice
    now = 2_002;
    expect(await usage.messagesToday(acme, DAY)).toBe(3);
    expect(model.reads).toBe(3);
  });

  it('the projector part way through: what it applied comes from the read model, the rest from here', async () => {
    const model = readModel();
    let now = 0;
    const usage = counting(model, () => now);
    model.project();
    await usage.messagesToday(acme, DAY);
    const slots = await Promise.all(Array.from({ length: 4 }, () => usage.reserveMessage!(acme, DAY)));
    const positions = slots.map((slot) => {
      const position = model.accept(acme);
      slot.settle(position);
      return position;
    });
    model.project(positions[1]);
    now = 1_001;
    expect(await usage.messagesToday(acme, DAY)).toBe(4);
  });

  it('messages settled while a read is in flight are counted once, whichever side of its snapshot they fall', async () => {
    const model = readModel();
    let now = 0;
    const usage = counting(model, () => now);
    model.project();
    const slots = await Promise.all(Array.from({ length: 4 }, () => usage.reserveMessage!(acme, DAY)));
    const early = [model.accept(acme), model.accept(acme)];
    model.project(); // the read model has the first two
    now = 2_000;
    const release = model.hold();
    const reading = usage.messagesToday(acme, DAY); // its snapshot: the first two
    slots[0]!.settle(early[0]); // settled during the read, already in its snapshot
    slots[2]!.settle(model.accept(acme)); // settled during the read, after its snapshot
    release();
    // 2 projected + the third (local, past the snapshot) + 2 still in flight — one of which the read
    // model already has: counted twice until it settles, on the safe side
    expect(await reading).toBe(5);
    slots[1]!.settle(early[1]); // settled after the read, which counted it
    slots[3]!.settle(model.accept(acme));
    expect(await usage.messagesToday(acme, DAY)).toBe(4);
  });

  it('concurrent posts at the limit: the ones still in flight count, so only one gets the last place', async () => {
    const model = readModel();
    for (let i = 0; i < 9; i++) model.accept(acme);
    model.project();
    const usage = counting(model, () => 0);
    const slots = await Promise.all(Array.from({ length: 3 }, () => usage.reserveMessage!(acme, DAY)));
    expect(slots.map((s) => s.count)).toEqual([9, 10, 11]);
    slots[1]!.settle(undefined); // refused or failed: gives its place back
    slots[2]!.settle(undefined);
    slots[0]!.settle(model.accept(acme));
    expect(await usage.messagesToday(acme, DAY)).toBe(10);
    slots[0]!.settle(model.accept(acme)); // settling twice changes nothing
    expect(await usage.messagesToday(acme, DAY)).toBe(10);
  });

  it('concurrent commands of a cold tenant share one read', async () => {
    const model = readModel();
    for (let i = 0; i < 7; i++) model.accept(acme);
    model.project();
    const usage = counting(model, () => 0);
    const release = model.hold();
    const answers = Promise.all(Array.from({ length: 20 }, () => usage.messagesToday(acme, DAY)));
    release();
    expect(await answers).toEqual(Array(20).fill(7));
    expect(model.reads).toBe(1);
  });

  it('a failed read fails that command and the next one reads again', async () => {
    const model = readModel();
    for (let i = 0; i < 5; i++) model.accept(acme);
    model.project();
    const usage = counting(model, () => 0);
    model.failOnce();
    await expect(usage.messagesToday(acme, DAY)).rejects.toThrow('read model unavailable');
    expect(await usage.messagesToday(acme, DAY)).toBe(5);
  });

  it('days are counted apart; before the projector has run at all, local messages still count; knights pass through', async () => {
    const model = readModel();
    const usage = counting(model, () => 0);
    expect(await usage.messagesToday(acme, DAY)).toBe(0);
    await post(model, usage);
    await post(model, usage);
    expect(await usage.messagesToday(acme, DAY)).toBe(2);
    expect(await usage.messagesToday(acme, '2026-12-01')).toBe(0);
    expect(await usage.activeKnights(acme)).toBe(3);
  });
});
