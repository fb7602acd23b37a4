/**
 * The EventStore port on EventStoreDB / KurrentDB through @eventstore/db-client 6.x.
 *
 * Positions are $all commit positions (bigint). Each event an append writes gets its own commit
 * position, and $all only serves events that are committed (and replicated), so subscribers never
 * see a later position before an earlier one commits: the server's log order is the order.
 */
import { EventStoreDBClient } from '@eventstore/db-client';
import { storeUnavailable } from '../../../domain/ports/event-store.ts';
import type { EventStore, Subscription } from '../../../domain/ports/event-store.ts';
import { appendEvents } from './append.ts';
import { countEventsAfter, readAllEvents, readHeadPosition, readStreamEvents } from './reads.ts';
import { subscribeToEvents } from './subscribe.ts';

export interface EventStoreDbOptions {
  /** e.g. `esdb://localhost:2113?tls=false` */
  readonly connectionString: string;
  /**
   * Idempotency look-up (ESDB cannot find an event by id): how many of the stream's newest events an
   * append with an idempotency key searches for its ids (default 5000; 200 without a key)…
   */
  readonly streamIdempotencyWindow?: number;
  /** …and how many of $all's newest events it searches for the ids in other streams (default 500). */
  readonly allIdempotencyWindow?: number;
}

export const createEventStoreDbStore = (options: EventStoreDbOptions): EventStore => {
  const client = EventStoreDBClient.connectionString(options.connectionString);
  const subscriptions = new Set<Subscription>();
  let closed = false;
  const open = () => {
    if (closed) throw storeUnavailable('event store is closed');
  };
  const headPosition = () => readHeadPosition(client);
  const appendContext = {
    client,
    streamWindow: options.streamIdempotencyWindow ?? 5_000,
    allWindow: options.allIdempotencyWindow ?? 500,
    headPosition,
  };

  return {
    async append(streamId, events, expected) {
      open();
      return appendEvents(appendContext, streamId, events, expected);
    },
    async readStream(streamId, readOptions) {
      open();
      return readStreamEvents(client, streamId, readOptions);
    },
    async readAll(readOptions) {
      open();
      return readAllEvents(client, readOptions);
    },
    subscribe(subscribeOptions, handler) {
      open();
      const subscription = subscribeToEvents(client, subscribeOptions, handler);
      subscriptions.add(subscription);
      void subscription.done.catch(() => undefined).finally(() => subscriptions.delete(subscription));
      return subscription;
    },
    async headPosition() {
      open();
      return headPosition();
    },
    async countAfter(after, countOptions) {
      open();
      return countEventsAfter(client, after, countOptions?.limit);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...subscriptions].map((subscription) => subscription.close()));
      await client.dispose();
    },
  };
};

/** The store factory when `EVENTSTORE_URL` is set, else undefined (the runtime picks another store). */
export const eventStoreDbFactoryFromEnv = (
  env: Readonly<Record<string, string | undefined>> = process.env,
): (() => EventStore) | undefined => {
  const connectionString = env.EVENTSTORE_URL?.trim();
  if (!connectionString) return undefined;
  return () => createEventStoreDbStore({ connectionString });
};
