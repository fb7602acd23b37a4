import type { LiveFeed, LiveFrame, LiveListener, LiveSource } from '../../domain/ports/live.ts';

/** The live feed of one process (the embedded default, tests): publish hands the frame to every listener here. */
export const createInProcessLiveFeed = (): LiveFeed & LiveSource => {
  const listeners = new Set<LiveListener>();
  return {
    async publish(tenantId: string, frame: LiveFrame) {
      for (const listener of listeners) listener(tenantId, frame);
    },
    async listen(listener) {
      listeners.add(listener);
      return { close: async () => void listeners.delete(listener) };
    },
  };
};
