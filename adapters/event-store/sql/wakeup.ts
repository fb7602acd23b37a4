/** A level-triggered signal: a notify that lands before anyone waits is not lost. */
export interface Wakeup {
  notify(): void;
  /**
   * Resolves on the next notify after `seen`, after `timeoutMs`, or when `signal` aborts (its timer
   * cleared then: a closed subscription must not keep the process alive). Returns the generation seen.
   */
  wait(seen: number, timeoutMs: number, signal?: AbortSignal): Promise<number>;
  readonly generation: number;
}

export const createWakeup = (): Wakeup => {
  let generation = 0;
  let waiters: Array<() => void> = [];
  return {
    get generation() {
      return generation;
    },
    notify() {
      generation++;
      const current = waiters;
      waiters = [];
      for (const wake of current) wake();
    },
    wait(seen, timeoutMs, signal) {
      if (generation !== seen || signal?.aborted) return Promise.resolve(generation);
      return new Promise<number>((resolve) => {
        const settle = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', leave);
          resolve(generation);
        };
        const leave = () => {
          waiters = waiters.filter((w) => w !== settle);
          settle();
        };
        const timer = setTimeout(leave, timeoutMs);
        signal?.addEventListener('abort', leave, { once: true });
        waiters.push(settle);
      });
    },
  };
};
