import type { RecordedEvent, Subscription, SubscriptionHandler } from '../../../domain/ports/event-store.ts';
import { isAppError } from '../../../domain/shared/errors.ts';
import type { Wakeup } from './wakeup.ts';

export interface SubscriptionSource {
  readonly after: bigint | undefined;
  readonly batchSize: number;
  readonly readPage: (after: bigint | undefined, maxCount: number) => Promise<RecordedEvent[]>;
  /** Are there committed events we may not deliver yet because an older transaction is still open? */
  readonly hasPendingBeyondHorizon: (after: bigint | undefined) => Promise<boolean>;
  readonly wakeup: Wakeup;
  readonly handler: SubscriptionHandler;
}

const IDLE_POLL_MS = 1_000; // safety net if a notification is lost
const HORIZON_POLL_MS = 5; // an older transaction holds the horizon: look again soon
const MAX_BACKOFF_MS = 2_000;

const sleep = (ms: number, abort: Promise<void>) =>
  Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), abort]);

/**
 * Catch-up and live are one loop: read a page after the last handled position; if it is empty,
 * wait for a notification. There is no seam to get wrong: the live phase is the catch-up query.
 */
export const createSubscription = (source: SubscriptionSource): Subscription => {
  let position = source.after;
  let closed = false;
  let signalClose!: () => void;
  const closing = new Promise<void>((resolve) => (signalClose = resolve));

  const loop = async (): Promise<void> => {
    let backoff = 50;
    while (!closed) {
      const seen = source.wakeup.generation;
      let page: RecordedEvent[];
      try {
        page = await source.readPage(position, source.batchSize);
      } catch (error) {
        if (isAppError(error) && error.kind === 'unavailable') {
          await sleep(backoff, closing);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
        throw error;
      }
      backoff = 50;
      if (closed) return;
      if (page.length > 0) {
        await source.handler(page);
        position = page[page.length - 1]!.position;
        continue;
      }
      const pending = await source.hasPendingBeyondHorizon(position).catch(() => false);
      await Promise.race([source.wakeup.wait(seen, pending ? HORIZON_POLL_MS : IDLE_POLL_MS), closing]);
    }
  };

  const done = loop();
  done.catch(() => undefined);
  return {
    get position() {
      return position;
    },
    done,
    async close() {
      closed = true;
      signalClose();
      await done.catch(() => undefined);
    },
  };
};
