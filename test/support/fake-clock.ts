import type { Clock } from '../../adapters/channels/pacer.ts';

/**
 * A clock that only moves when slept on: every wait a sender asks for is recorded and passes at once,
 * so pacing and retry-after are asserted as the waits requested, never by measuring time.
 */
export const fakeClock = (start = Date.parse('2026-01-01T00:00:00Z')) => {
  let now = start;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
  return {
    clock,
    sleeps,
    advance(ms: number) {
      now += ms;
    },
    get now() {
      return now;
    },
  };
};
