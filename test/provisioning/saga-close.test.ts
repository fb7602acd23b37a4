import { PGlite } from '@electric-sql/pglite';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { createProvisioningSaga } from '../../adapters/provisioning/saga.ts';
import type { ProvisioningSagaDeps } from '../../adapters/provisioning/saga.ts';
import type { Bus, BusSubscription } from '../../domain/ports/bus.ts';
import { DEFAULT_POLICY } from '../../domain/provisioning/job.ts';

/** Timers that keep this process alive (an unref'd timer does not count). */
const liveTimers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const db = pgliteDb(new PGlite(), { ownsInstance: true });
afterAll(() => db.close());

/** A saga over a bus whose `consume` is the one given; nothing else is reached before an event arrives. */
const sagaOver = (consume: Bus['consume']) => {
  const calls = { consume: 0 };
  const bus = {
    consume: (...args: Parameters<Bus['consume']>) => {
      calls.consume++;
      return consume(...args);
    },
    lag: async (consumer: string) => ({ consumer, partitions: [], total: 0 }),
  } as unknown as Bus;
  const deps = { bus, db, schema: 'saga_close', policy: DEFAULT_POLICY, log: pino({ level: 'silent' }), bridge: {}, store: {}, codec: { storedTypes: (t: string) => [t] }, shell: {}, vms: {} };
  return { calls, saga: createProvisioningSaga(deps as unknown as ProvisioningSagaDeps) };
};

describe('provisioning saga: stop', () => {
  it('given a consumer that failed and waits a second to start again, when the saga stops, then no timer of it keeps the process alive', async () => {
    let fail!: (error: Error) => void;
    const failed: BusSubscription = { close: async () => undefined, done: new Promise<void>((_, reject) => (fail = reject)) };
    const { calls, saga: pending } = sagaOver(async () => failed);
    const saga = await pending;
    const before = liveTimers();
    await saga.start();
    const started = liveTimers();
    fail(new Error('connection lost'));
    while (liveTimers() === started) await turn(); // the restart is scheduled
    await saga.stop();
    expect(liveTimers()).toBe(before);
    expect(calls.consume).toBe(1);
  });

  it('given a consumer that cannot start (start() keeps trying), when the saga stops, then start() ends at once and leaves no timer', async () => {
    const { calls, saga: pending } = sagaOver(() => Promise.reject(new Error('database unreachable')));
    const saga = await pending;
    const before = liveTimers();
    const starting = saga.start();
    while (liveTimers() === before) await turn(); // the first attempt failed; it waits before the next
    await saga.stop();
    expect(liveTimers()).toBe(before);
    await starting;
    expect(calls.consume).toBe(1);
  });
});
