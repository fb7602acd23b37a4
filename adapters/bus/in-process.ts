import type { Bus, CheckpointStore } from '../../domain/ports/bus.ts';
import type { EventStore, Subscription } from '../../domain/ports/event-store.ts';

/**
 * The embedded bus: each named consumer is a subscription over the event store that saves its
 * position after every batch its handler finished. A crash between the handler and the save
 * redelivers that batch: at-least-once.
 */
export const createInProcessBus = (store: EventStore, checkpoints: CheckpointStore): Bus => {
  const active = new Map<string, Subscription>();
  return {
    async consume(consumer, options, handler) {
      if (active.has(consumer)) throw new Error(`consumer ${consumer} is already running in this process`);
      const after = await checkpoints.load(consumer);
      const subscription = store.subscribe(
        { ...(after !== undefined ? { after } : {}), ...(options.filter ? { filter: options.filter } : {}), batchSize: options.batchSize ?? 200 },
        async (events) => {
          await handler(events);
          await checkpoints.save(consumer, events[events.length - 1]!.position);
        },
      );
      active.set(consumer, subscription);
      void subscription.done.catch(() => undefined).finally(() => active.delete(consumer));
      return subscription;
    },
    async close() {
      await Promise.all([...active.values()].map((s) => s.close()));
    },
  };
};
