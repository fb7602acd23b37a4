/** A level-triggered signal: a notify that lands before anyone waits is not lost. */
export interface Wakeup {
  notify(): void;
  /** Resolves on the next notify after `seen`, or after `timeoutMs`. Returns the generation seen. */
  wait(seen: number, timeoutMs: number): Promise<number>;
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
    wait(seen, timeoutMs) {
      if (generation !== seen) return Promise.resolve(generation);
      return new Promise<number>((resolve) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== wake);
          resolve(generation);
        }, timeoutMs);
        const wake = () => {
          clearTimeout(timer);
          resolve(generation);
        };
        waiters.push(wake);
      });
    },
  };
};
