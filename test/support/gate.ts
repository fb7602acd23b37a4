/** A promise opened from outside: lets a test hold an operation at a chosen point. */
export const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

export const waitFor = async (condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition') => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

/**
 * Until the store's head has reached `position`: an append is committed when it returns, but a
 * read of the whole log shows it only once every transaction that began before it has ended (the
 * PostgreSQL store's horizon, which keeps reads in position order; other tests' transactions on
 * the same cluster can hold it back for a moment).
 */
export const untilVisible = async (store: { headPosition(): Promise<bigint | undefined> }, position: bigint, timeoutMs = 10_000) =>
  waitFor(async () => ((await store.headPosition()) ?? -1n) >= position, timeoutMs, `the log head to reach ${position}`);
