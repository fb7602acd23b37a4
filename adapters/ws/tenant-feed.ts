import type { Logger } from 'pino';
import type { Decoded } from '../../domain/events.ts';
import { isUndecodable } from '../../domain/ports/codec.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { eventFrame } from './frames.ts';

/** Before every position: `after` of a read from the start of the log. */
export const FLOOR = -1n;
const afterOf = (position: bigint) => (position < 0n ? {} : { after: position });

/** A socket as the feed sees it: the last position it was sent, and a way to send it more. */
export interface FeedMember {
  cursor: bigint;
  /** The socket has gone (closed, cut off, dropped): it is not to join, or it would stay in the feed for good. */
  readonly closed: boolean;
  /** Returns false when the member was cut off (it then leaves the feed itself). */
  send(frame: string | Buffer): boolean;
}

export interface TenantFeedDeps {
  readonly tenantId: string;
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly log: Logger;
  readonly pageSize: number;
  /** The position the feed starts after (the log's head when the first socket of the tenant came). */
  readonly start: bigint;
}

/**
 * A page decoded `view`. An event no retry can decode (the projector halts on it; the read API
 * never shows it) is left out and logged: otherwise it would stop the tenant's feed for good.
 */
const decodeForView = async (deps: Pick<TenantFeedDeps, 'codec' | 'log' | 'tenantId'>, page: readonly RecordedEvent[]): Promise<Decoded[]> => {
  try {
    return await deps.codec.decode(page, 'view');
  } catch (error) {
    if (!isUndecodable(error)) throw error;
    const decoded: Decoded[] = [];
    for (const event of page)
      try {
        decoded.push(...(await deps.codec.decode([event], 'view')));
      } catch (failure) {
        if (!isUndecodable(failure)) throw failure;
        deps.log.error({ err: failure, tenantId: deps.tenantId, position: event.position.toString() }, 'ws pusher skips an event it cannot decode');
      }
    return decoded;
  }
};

/**
 * The live side of one tenant's sockets. The bus only wakes it: it reads the tenant's events after
 * its watermark from the store, in log order, decodes each once (`view`) and sends the same bytes
 * to every member. Reading the store rather than trusting the bus's order keeps positions in order
 * when the bus is Kafka (a tenant's streams sit in different partitions), so a client's last
 * position is always a safe place to resume from.
 */
export const createTenantFeed = (deps: TenantFeedDeps) => {
  const members = new Set<FeedMember>();
  let watermark = deps.start;
  let reading = false;
  let again = false;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;

  const read = async (): Promise<void> => {
    if (reading || stopped) return void (again = true);
    reading = true;
    try {
      do {
        again = false;
        const page = await deps.store.readAll({ ...afterOf(watermark), filter: { tenantId: deps.tenantId }, maxCount: deps.pageSize });
        if (page.length === 0) continue;
        const decoded = await decodeForView(deps, page);
        // encoded once: every member gets the same bytes
        const frames = decoded.map((event) => ({ position: event.position, text: Buffer.from(eventFrame(event)) }));
        watermark = page[page.length - 1]!.position;
        for (const member of [...members])
          for (const frame of frames) {
            if (frame.position <= member.cursor) continue;
            if (!member.send(frame.text)) break;
            member.cursor = frame.position;
          }
        if (page.length === deps.pageSize) again = true;
      } while (again && !stopped);
    } catch (error) {
      deps.log.error({ err: error, tenantId: deps.tenantId }, 'ws pusher could not read the log; trying again in 1 s');
      retry ??= setTimeout(() => {
        retry = undefined;
        void read();
      }, 1_000);
    } finally {
      reading = false;
    }
  };

  return {
    get watermark() {
      return watermark;
    },
    get size() {
      return members.size;
    },
    /** New events of this tenant may be in the log. */
    wake: () => void read(),
    join: (member: FeedMember) => void members.add(member),
    leave: (member: FeedMember) => void members.delete(member),
    stop() {
      stopped = true;
      clearTimeout(retry);
      members.clear();
    },
  };
};

export type TenantFeed = ReturnType<typeof createTenantFeed>;

/**
 * Sends `member` the tenant's events after its cursor until it is level with the feed, then makes
 * it a member: no gap (the page covers everything up to the feed's watermark before it joins) and
 * no double (the feed sends a member only positions past its cursor). `drained` waits while the
 * client has too much unsent; it returns false when the socket is gone.
 */
export const catchUp = async (
  feed: TenantFeed,
  member: FeedMember,
  deps: Pick<TenantFeedDeps, 'store' | 'codec' | 'log' | 'tenantId' | 'pageSize'> & { drained(): Promise<boolean> },
): Promise<boolean> => {
  // the socket may have gone while a page was read: its leaving the feed has already run
  const join = () => {
    if (member.closed) return false;
    feed.join(member);
    return true;
  };
  for (;;) {
    const before = feed.watermark;
    if (member.cursor >= before) return join();
    const page = await deps.store.readAll({ ...afterOf(member.cursor), filter: { tenantId: deps.tenantId }, maxCount: deps.pageSize });
    const decoded = await decodeForView(deps, page);
    const level = feed.watermark;
    const sendable = decoded.filter((event) => event.position <= level);
    for (const event of sendable) {
      if (!member.send(eventFrame(event))) return false;
      member.cursor = event.position;
    }
    // past an event left out as undecodable, too: the next page starts after it
    const covered = page.filter((event) => event.position <= level).at(-1)?.position;
    if (covered !== undefined && covered > member.cursor) member.cursor = covered;
    // The page covered everything up to `level` when it reached past it, or when it ended before
    // the page size while the feed stood still (the log's head was at or past `level` when read).
    if (page.some((event) => event.position > level) || (page.length < deps.pageSize && level === before)) return join();
    if (!(await deps.drained())) return false;
  }
};
