import { describe, expect, it } from 'vitest';
import { createSubscription } from '../../adapters/event-store/sql/subscription.ts';
import { createWakeup } from '../../adapters/event-store/sql/wakeup.ts';

/** Timers that keep this process alive (an unref'd timer does not count). */
const liveTimers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SQL store subscription: close', () => {
  it('given an idle subscription waiting for the next event, when it is closed, then no timer of it keeps the process alive', async () => {
    const before = liveTimers();
    const wakeup = createWakeup();
    let reads = 0;
    const subscription = createSubscription({
      after: undefined,
      batchSize: 10,
      readPage: async () => {
        reads++;
        return { events: [], full: false, pending: false };
      },
      wakeup,
      handler: () => undefined,
    });
    while (liveTimers() === before) await turn(); // it has read the empty log and waits for a notification
    expect(reads).toBe(1);
    await subscription.close();
    expect(liveTimers()).toBe(before);
    // a notify after close reaches no forgotten waiter and starts no read
    wakeup.notify();
    await turn();
    expect(reads).toBe(1);
  });
});
