import { randomUUID } from 'node:crypto';
import type { Bus, BusHandler, BusSubscription, ConsumerLag } from '../../domain/ports/bus.ts';
import type { CheckpointStore } from '../../domain/ports/checkpoints.ts';
import type { EventStore, RecordedEvent, Subscription } from '../../domain/ports/event-store.ts';
import { DEFAULT_RETRY, deliver, DeliveryStopped } from './delivery.ts';
import type { Delivery, RetryPolicy } from './delivery.ts';

export interface InProcessBusOptions {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  readonly deadLetters: { add(consumer: string, event: RecordedEvent, error: unknown, attempts: number): Promise<void> };
  readonly retry?: RetryPolicy;
  /** A consumer's subscription failed (the database, not the handler); it starts again from its checkpoint. */
  readonly onError?: (consumer: string, error: unknown) => void;
}

/**
 * Lag is counted by reading the log after the checkpoint, up to this many events, whatever the
 * consumer's filter (as a Kafka partition's lag counts messages its consumer skips).
 */
const LAG_COUNT_LIMIT = 10_000;
const RESTART_PAUSE_MS = 250;

/**
 * Handles up to `limit` batches at once: `start` returns as soon as its batch is under way (and there
 * is room), so the subscription reads on. A batch first waits for the running ones that share a stream
 * with it; each batch's progress is reported (`onDone`) only after every earlier batch's, so a saved
 * position never passes an unfinished event. The first failure is thrown to the next `start`, which
 * ends the subscription; `drain` waits for what runs and for the progress of what finished.
 */
const overlappingBatches = (limit: number, handler: BusHandler, delivery: Delivery) => {
  /** `handled`: its handler is done (or failed); `settled`: its progress and every earlier batch's are kept. */
  type Running = { readonly streams: ReadonlySet<string>; readonly handled: Promise<void>; readonly settled: Promise<void> };
  let running: Running[] = [];
  let progress: Promise<void> = Promise.resolve();
  const state: { failure?: { error: unknown } } = {};
  const failIfFailed = () => {
    if (state.failure) throw state.failure.error;
  };
  // within a batch, progress is kept at its end only: a crash replays the whole batch (at-least-once)
  const inBatch: Delivery = { ...delivery, onDone: undefined };
  return {
    async start(events: readonly RecordedEvent[]): Promise<void> {
      while (running.length >= limit && !state.failure) await Promise.race(running.map((r) => r.settled));
      failIfFailed();
      if (events.length === 0) return;
      const streams = new Set(events.map((e) => e.streamId));
      const before = running.filter((r) => events.some((e) => r.streams.has(e.streamId))).map((r) => r.handled);
      const work = (async () => {
        await Promise.all(before);
        failIfFailed(); // an earlier batch failed: nothing after it is handled
        await deliver(events, handler, inBatch);
      })();
      const last = events[events.length - 1]!;
      const previous = progress;
      progress = (async () => {
        await work;
        await previous;
        failIfFailed();
        await delivery.onDone?.(last);
      })().catch((error: unknown) => {
        state.failure ??= { error };
      });
      const entry: Running = { streams, handled: work.then(() => undefined, () => undefined), settled: progress };
      running.push(entry);
      void progress.then(() => (running = running.filter((r) => r !== entry)));
    },
    async drain(): Promise<void> {
      await Promise.all(running.map((r) => r.settled));
      await progress;
    },
  };
};

/**
 * The embedded bus: each consumer is a subscription over the event store. A `group` consumer saves
 * its position (one partition, `log`) after every batch or event it is done with, so a crash
 * between the handler and the save redelivers: at-least-once. Only one instance per name can
 * run, and only in this process; `broadcast` starts at the head and saves nothing.
 */
export const createInProcessBus = (options: InProcessBusOptions): Bus => {
  const { store, checkpoints } = options;
  const retry = options.retry ?? DEFAULT_RETRY;
  const active = new Map<string, BusSubscription>();

  const run = (consumer: string, start: bigint | undefined, mode: 'group' | 'broadcast', subscribe: (after: bigint | undefined, delivery: Delivery) => Subscription) => {
    let closing = false;
    let signalClose!: () => void;
    const stopping = new Promise<void>((resolve) => (signalClose = resolve));
    let current: Subscription | undefined;
    let position = start;
    // A group's position is saved behind the handler, not in its way: the next batch starts while the
    // save of the last one is on its way; saves run one at a time, the newest position pending wins.
    // A crash before a save redelivers, as it would anyway (at-least-once); close() waits for the last.
    let toSave: bigint | undefined;
    let saving: Promise<void> = Promise.resolve();
    const saveLatest = async () => {
      while (toSave !== undefined) {
        const next = toSave;
        toSave = undefined;
        await checkpoints.save(consumer, next).catch((error: unknown) => options.onError?.(consumer, error));
      }
    };
    const delivery: Delivery = {
      policy: retry,
      stopping,
      isStopping: () => closing,
      deadLetter: (event, error, attempts) => options.deadLetters.add(consumer, event, error, attempts),
      async onDone(last) {
        position = last.position;
        if (mode !== 'group') return;
        const idle = toSave === undefined;
        toSave = last.position;
        if (idle) saving = saving.then(saveLatest);
      },
    };
    const loop = async () => {
      while (!closing) {
        current = subscribe(position, delivery);
        try {
          await current.done;
        } catch (error) {
          if (closing || error instanceof DeliveryStopped) return;
          options.onError?.(consumer, error);
          await Promise.race([new Promise((resolve) => setTimeout(resolve, RESTART_PAUSE_MS)), stopping]);
          if (mode === 'group') position = await checkpoints.load(consumer).catch(() => position);
        }
      }
    };
    const done = loop();
    return {
      done,
      async close() {
        closing = true;
        signalClose();
        await current?.close();
        await done;
        await saving;
      },
    } satisfies BusSubscription;
  };

  return {
    async consume(consumer, consumeOptions, handler) {
      const mode = consumeOptions.mode ?? 'group';
      const key = mode === 'group' ? consumer : `${consumer}#${randomUUID()}`;
      if (active.has(key)) throw new Error(`consumer ${consumer} is already running in this process`);
      const start = mode === 'group' ? await checkpoints.load(consumer) : await store.headPosition();
      const atOnce = Math.max(1, consumeOptions.batchesAtOnce ?? 1);
      const subscription = run(consumer, start, mode, (after, delivery) => {
        const options = { ...(after !== undefined ? { after } : {}), ...(consumeOptions.filter ? { filter: consumeOptions.filter } : {}), batchSize: consumeOptions.batchSize ?? 200 };
        if (atOnce === 1) return store.subscribe(options, (events) => deliver(events, handler, delivery));
        const overlap = overlappingBatches(atOnce, handler, delivery);
        const inner = store.subscribe(options, overlap.start);
        return {
          get position() {
            return inner.position;
          },
          done: inner.done.finally(overlap.drain),
          async close() {
            await inner.close();
            await overlap.drain();
          },
        } satisfies Subscription;
      });
      active.set(key, subscription);
      void subscription.done.finally(() => active.delete(key));
      return subscription;
    },
    async lag(consumer): Promise<ConsumerLag> {
      const committed = await checkpoints.load(consumer);
      const [head, behind] = await Promise.all([
        store.headPosition(),
        store.readAll({ ...(committed !== undefined ? { after: committed } : {}), maxCount: LAG_COUNT_LIMIT }),
      ]);
      const partition = { partition: 'log', committed: committed === undefined ? null : String(committed), end: String(head ?? -1n), lag: behind.length };
      return { consumer, partitions: [partition], total: behind.length };
    },
    async close() {
      await Promise.all([...active.values()].map((s) => s.close()));
    },
  };
};
