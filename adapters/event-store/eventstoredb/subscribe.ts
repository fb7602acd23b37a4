import { ErrorType, eventTypeFilter, excludeSystemEvents, streamNameFilter } from '@eventstore/db-client';
import type { AllStreamResolvedEvent, AllStreamSubscription, EventStoreDBClient, Filter } from '@eventstore/db-client';
import type { RecordedEvent, SubscribeOptions, Subscription, SubscriptionHandler } from '../../../domain/ports/event-store.ts';
import { backoffMs, esdbErrorType, isTransientEsdbError, toStoreError } from './errors.ts';
import { accepts, commitOf, serverFilterFor, toReadPosition, toRecordedEvent } from './mapping.ts';
import type { EsdbRecord, ServerFilter } from './mapping.ts';

const toClientFilter = (filter: ServerFilter): Filter => {
  if (filter.on === 'streamName') return streamNameFilter({ regex: filter.regex });
  if (filter.on === 'eventType') return eventTypeFilter({ regex: filter.regex });
  return excludeSystemEvents();
};

/** A thrown handler error, kept apart from the subscription's own failures. */
class HandlerFailure {
  constructor(readonly error: unknown) {}
}

/** A dropped subscription is resubscribed; a refusal (access denied, bad filter) or a bug is not. */
const isRecoverable = (error: unknown): boolean =>
  isTransientEsdbError(error) ||
  esdbErrorType(error) === ErrorType.UNKNOWN ||
  (error as { code?: unknown } | null)?.code === 'ERR_STREAM_PREMATURE_CLOSE';

/**
 * subscribeToAll from the last position seen, with the server filtering stream names (or types),
 * the rest of the filter applied here. Batches are what the client has buffered, up to batchSize;
 * the next batch is taken only after the handler finished. A dropped subscription resubscribes from
 * the last event seen, with backoff; events at or before it are skipped, so nothing is delivered twice.
 */
export const subscribeToEvents = (
  client: EventStoreDBClient,
  options: SubscribeOptions,
  handler: SubscriptionHandler,
): Subscription => {
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 500));
  const filter = toClientFilter(serverFilterFor(options.filter));
  let position = options.after; // last event the handler finished with
  let resume = options.after; // last event seen, delivered or filtered out
  let closed = false;
  let failures = 0;
  let current: AllStreamSubscription | undefined;
  let wake: (() => void) | undefined;

  const stop = (subscription: AllStreamSubscription) => {
    void subscription.unsubscribe().catch(() => undefined);
    subscription.destroy();
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const consume = async (subscription: AllStreamSubscription): Promise<void> => {
    const iterator = subscription[Symbol.asyncIterator]();
    for (;;) {
      const first = await iterator.next();
      if (first.done || closed) return;
      const raw: AllStreamResolvedEvent[] = [first.value];
      while (raw.length < batchSize) {
        const more = subscription.read() as AllStreamResolvedEvent | null; // already buffered, no waiting
        if (more === null) break;
        raw.push(more);
      }
      const batch: RecordedEvent[] = [];
      let last = resume;
      for (const { event } of raw) {
        const commit = commitOf(event?.position);
        if (!event || commit === undefined || (last !== undefined && commit <= last)) continue;
        last = commit;
        if (accepts(event, options.filter)) batch.push(toRecordedEvent(event as EsdbRecord));
      }
      if (batch.length > 0) {
        if (closed) return;
        try {
          await handler(batch);
        } catch (error) {
          throw new HandlerFailure(error);
        }
        position = batch[batch.length - 1]!.position;
      }
      resume = last;
      failures = 0;
    }
  };

  const run = async (): Promise<void> => {
    while (!closed) {
      const subscription = client.subscribeToAll({ fromPosition: toReadPosition(resume), filter });
      subscription.on('error', () => undefined); // the iterator reports errors; none may go unhandled after stop
      current = subscription;
      try {
        await consume(subscription); // returns when closed or when the server ended the stream
      } catch (error) {
        if (error instanceof HandlerFailure) throw error.error;
        if (!closed && !isRecoverable(error)) throw toStoreError(error, 'subscribe');
      } finally {
        current = undefined;
        stop(subscription);
      }
      if (!closed) await pause(backoffMs(failures++));
    }
  };

  const done = run();
  done.catch(() => undefined); // the caller observes `done`; no unhandled rejection if it does not
  return {
    get position() {
      return position;
    },
    done,
    async close() {
      closed = true;
      wake?.();
      if (current) stop(current);
      await done.catch(() => undefined);
    },
  };
};
