import type { BusHandler } from '../../domain/ports/bus.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';

/** How hard a bus tries before an event is dead-lettered. */
export interface RetryPolicy {
  /** Attempts per event before it goes to the dead letters (at least 1). */
  readonly maxAttempts: number;
  /** Pause after the first failed attempt; it doubles after each further failure, up to maxBackoffMs. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, backoffMs: 100, maxBackoffMs: 5_000 };

/** Thrown out of a delivery that was interrupted by close(): nothing past the last handled event is acknowledged. */
export class DeliveryStopped extends Error {
  override name = 'DeliveryStopped';
}

export interface Delivery {
  readonly policy: RetryPolicy;
  /** Settles when the consumer is closing: pauses end early and delivery stops. */
  readonly stopping: Promise<void>;
  isStopping(): boolean;
  /** Stores a poison event with its error; delivery moves on once it resolves. */
  deadLetter(event: RecordedEvent, error: unknown, attempts: number): Promise<void>;
  /** Called between attempts (Kafka: heartbeat, so a long retry does not cost the partition). */
  keepAlive?(): Promise<void>;
  /** Called after each event or batch that is done (handled or dead-lettered), with the last of them. */
  onDone?(last: RecordedEvent): Promise<void>;
}

const pause = async (ms: number, delivery: Delivery) => {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), delivery.stopping]);
  clearTimeout(timer);
  if (delivery.isStopping()) throw new DeliveryStopped('consumer closing');
};

const backoff = (policy: RetryPolicy, failures: number) => Math.min(policy.backoffMs * 2 ** (failures - 1), policy.maxBackoffMs);

/** One event until it is handled or has failed `maxAttempts` times (counting `failedBefore`); then it is dead-lettered. */
const deliverOne = async (event: RecordedEvent, handler: BusHandler, delivery: Delivery, failedBefore: unknown[]) => {
  const failures = [...failedBefore];
  for (;;) {
    if (failures.length >= delivery.policy.maxAttempts) return delivery.deadLetter(event, failures.at(-1), failures.length);
    if (failures.length > 0) {
      await delivery.keepAlive?.();
      await pause(backoff(delivery.policy, failures.length), delivery);
    }
    try {
      await handler([event]);
      return;
    } catch (error) {
      failures.push(error);
    }
  }
};

/**
 * The batch in one call when the handler takes it; when it throws, event by event in order, each
 * retried with backoff, so one poison event neither blocks nor drops the events around it (the
 * handler may see events of the failed batch again: delivery is at-least-once).
 */
export const deliver = async (events: readonly RecordedEvent[], handler: BusHandler, delivery: Delivery): Promise<void> => {
  if (events.length === 0) return;
  if (delivery.isStopping()) throw new DeliveryStopped('consumer closing');
  let batchError: unknown;
  try {
    await handler(events);
    await delivery.onDone?.(events[events.length - 1]!);
    return;
  } catch (error) {
    batchError = error;
  }
  for (const event of events) {
    if (delivery.isStopping()) throw new DeliveryStopped('consumer closing');
    await deliverOne(event, handler, delivery, events.length === 1 ? [batchError] : []);
    await delivery.onDone?.(event);
  }
};

export const errorText = (error: unknown): string => {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
};
