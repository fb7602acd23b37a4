import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordedEvent, Subscription, SubscriptionHandler } from '../../../domain/ports/event-store.ts';
import { isAppError } from '../../../domain/shared/errors.ts';
import type { Wakeup } from './wakeup.ts';

export interface Page {
  readonly events: RecordedEvent[];
  readonly full: boolean;
  readonly pending: boolean;
  /** Every event up to here that the subscription wants is in `events`: its position may move here. */
  readonly scannedTo?: bigint;
}

export interface SubscriptionSource {
  readonly after: bigint | undefined;
  readonly batchSize: number;
  /**
   * The next events after a position that may be delivered (below the visibility horizon), up to
   * `maxCount`; `full` when there may be more right away; `pending` when committed events past the
   * horizon wait for an older transaction still open (look again soon: it may end without a commit
   * and so without a notification).
   */
  readonly readPage: (after: bigint | undefined, maxCount: number) => Promise<Page>;
  readonly wakeup: Wakeup;
  readonly handler: SubscriptionHandler;
}

const IDLE_POLL_MS = 1_000; // safety net if a notification is lost
const HORIZON_POLL_MS = 5; // an older transaction holds the horizon: look again soon
const MAX_BACKOFF_MS = 2_000;

/** A backoff pause that close() ends at once and that never keeps the process alive on its own. */
const pause = (ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal, ref: false }).catch(() => undefined);

/**
 * Catch-up and live are one loop: read a page after the last handled position; unless it was full,
 * wait for a notification. There is no seam to get wrong: the live phase is the catch-up query.
 * One query per wake-up: the generation is taken before the read, so a commit that the read did not
 * see has already moved it, and the wait returns at once.
 */
export const createSubscription = (source: SubscriptionSource): Subscription => {
  let position = source.after;
  const stop = new AbortController();
  const closed = () => stop.signal.aborted;

  const loop = async (): Promise<void> => {
    let backoff = 50;
    while (!closed()) {
      const seen = source.wakeup.generation;
      let page: Page;
      try {
        page = await source.readPage(position, source.batchSize);
      } catch (error) {
        if (isAppError(error) && error.kind === 'unavailable') {
          await pause(backoff, stop.signal);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
        throw error;
      }
      backoff = 50;
      if (closed()) return;
      if (page.events.length > 0) {
        await source.handler(page.events);
        position = page.events[page.events.length - 1]!.position;
        if (page.full) continue;
      }
      if (page.scannedTo !== undefined && (position === undefined || page.scannedTo > position)) position = page.scannedTo;
      await source.wakeup.wait(seen, page.pending ? HORIZON_POLL_MS : IDLE_POLL_MS, stop.signal);
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
      stop.abort();
      await done.catch(() => undefined);
    },
  };
};
