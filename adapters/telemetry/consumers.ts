import type { Bus, BusHandler, BusSubscription, ConsumeOptions } from '../../domain/ports/bus.ts';
import { tenantOfEvents, withLogFields } from './log-context.ts';
import { countConsumed } from './metrics.ts';
import { watchLag } from './lag.ts';
import { inEventsSpan } from './tracing.ts';

/**
 * A bus consumer's telemetry: a span per handler call (a child of the trace its first event was
 * recorded in), events handled and failed, and — for a group consumer — its lag at each scrape
 * while the subscription lasts.
 */
export const observeConsumer = (bus: Bus, consumer: string, mode: ConsumeOptions['mode']) => ({
  handler:
    (handle: BusHandler): BusHandler =>
    (events) =>
      inEventsSpan(`consume ${consumer}`, events, { 'messaging.consumer.group.name': consumer }, async () => {
        try {
          // every line the handler logs names the consumer, and the tenant when the batch has one
          const tenantId = tenantOfEvents(events);
          await withLogFields({ consumer, ...(tenantId ? { tenantId } : {}) }, () => handle(events));
          countConsumed(consumer, 'ok', events.length);
        } catch (error) {
          countConsumed(consumer, 'error', events.length);
          throw error;
        }
      }),
  async track(subscribing: Promise<BusSubscription>): Promise<BusSubscription> {
    const subscription = await subscribing;
    if (mode === 'broadcast') return subscription;
    const unwatch = watchLag(async () => [{ kind: 'consumer', name: consumer, events: (await bus.lag(consumer)).total }]);
    subscription.done.then(unwatch, unwatch);
    return {
      done: subscription.done,
      close: async () => {
        unwatch();
        await subscription.close();
      },
    };
  },
});
