/** Time as the senders see it; tests hand in a fake one, so pacing and retry waits are checked without waiting. */
export type Clock = {
  now(): number;
  sleep(ms: number): Promise<void>;
};

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export type Pacer = {
  /** Resolves when a message under `key` may go: at least `intervalMs` after the previous one's slot. */
  wait(key: string): Promise<void>;
  /** No message under `key` before `at` (epoch ms), e.g. after a 429 with retry_after. */
  holdUntil(key: string, at: number): void;
  readonly size: number;
};

/**
 * Spaces messages per key (a chat, a user, a bot) by reserving slots: a caller takes the next free slot
 * at once and sleeps until it, so concurrent sends to one chat queue in call order instead of racing.
 * Only within one process; several delivery processes need the same chat routed to one of them (the
 * bus keys by conversation stream) or a shared limiter. Keys whose slot has passed are forgotten first
 * once more than `maxKeys` are held, so memory stays bounded.
 */
export const createPacer = (options: { intervalMs: number; clock?: Clock; maxKeys?: number }): Pacer => {
  const { intervalMs, clock = systemClock, maxKeys = 100_000 } = options;
  const nextSlot = new Map<string, number>();

  const forgetSome = (now: number) => {
    if (nextSlot.size <= maxKeys) return;
    for (const [key, at] of nextSlot) {
      if (at <= now) nextSlot.delete(key);
      if (nextSlot.size <= maxKeys) return;
    }
    for (const key of nextSlot.keys()) {
      nextSlot.delete(key);
      if (nextSlot.size <= maxKeys) return;
    }
  };

  return {
    async wait(key) {
      const now = clock.now();
      const slot = Math.max(now, nextSlot.get(key) ?? now);
      nextSlot.delete(key); // re-inserted last: the map stays ordered by last use
      nextSlot.set(key, slot + intervalMs);
      forgetSome(now);
      if (slot > now) await clock.sleep(slot - now);
    },
    holdUntil(key, at) {
      nextSlot.set(key, Math.max(at, nextSlot.get(key) ?? at));
    },
    get size() {
      return nextSlot.size;
    },
  };
};
