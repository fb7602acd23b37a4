import type { RecordedEvent, StoredEvent } from '../../domain/ports/event-store.ts';
import { hash } from 'node:crypto';
import { contentHash, GENESIS_HEX, storedContentHash } from '../event-store/chain.ts';
import type { TenantDigest } from './digest.ts';

export type BreakReason =
  | 'hash_mismatch' // the stored hash is not sha256(previous hash ‖ content): content, metadata, order or stream changed
  | 'missing_hash' // an event without a hash (written before chains, or the hash was removed)
  | 'missing_event' // a revision is absent: deleted
  | 'duplicate_revision' // two events claim one revision
  | 'position_order' // a file's positions go backwards: lines moved
  | 'digest_mismatch' // the event the digest records at this revision has another hash
  | 'truncated'; // the stream ends before the revision the digest records: newest events deleted

/** The first link that does not hold: where, and what the chain expected against what was found. */
export interface ChainBreak {
  readonly reason: BreakReason;
  readonly streamId: string;
  readonly revision: number;
  readonly expected: string | null;
  readonly found: string | null;
  readonly message: string;
  /** The line of an exported file, when verifying one. */
  readonly line?: number;
}

export interface VerifyReport {
  readonly events: number;
  readonly streams: number;
  /** The first break, or undefined when every chain holds. */
  readonly break: ChainBreak | undefined;
  /** Streams that start mid-log in a partial export (their first event is past revision 0). */
  readonly anchored: number;
  /**
   * Of those, the ones whose first event was taken on trust: its line names no `prev` (the hash of the
   * event before it), so its content could not be checked against its hash. The others were linked to `prev`.
   */
  readonly unchecked: number;
}

interface Head {
  revision: number;
  hash: string;
  /** Events read ahead of a missing revision (a log may deliver a stream's revisions out of position order). */
  readonly waiting: Map<number, { event: Hashed; line: number | undefined }>;
}

type Checked = Pick<RecordedEvent, 'id' | 'streamId' | 'revision' | 'type' | 'data' | 'metadata' | 'hash'> & { readonly prev?: string | undefined };

/** An event reduced to what its link needs: where it is, its stored hash, and its content hash. */
interface Hashed {
  readonly streamId: string;
  readonly revision: number;
  readonly hash?: string | undefined;
  /** Hex. */
  readonly content: string;
  /** A partial export's first line of a stream: the hash of the event before it (hex). */
  readonly prev?: string | undefined;
}

/**
 * Recomputes every stream's chain from events fed in log order. `anchorPartialStreams`: a stream
 * whose first event seen is past revision 0 (an export that starts mid-log) is linked to the
 * previous hash its line names (`prev`), so its content is checked like any other; a line without
 * `prev` is taken on trust from its stored hash (counted as `unchecked`). Either way a digest's
 * pinned revision is checked on it. `'linked'` (a file without a header, e.g. the API's ranged answer):
 * only a first event whose line names `prev` starts mid-log. Otherwise a stream's earlier events count
 * as deleted.
 */
export const createChainVerifier = (options: { anchorPartialStreams?: boolean | 'linked'; digest?: TenantDigest } = {}) => {
  const heads = new Map<string, Head>();
  const recorded = new Map<string, { revision: number; hash: string }>();
  for (const head of options.digest?.heads ?? []) recorded.set(head.streamId, head);
  let events = 0;
  let anchored = 0;
  let unchecked = 0;
  let first: ChainBreak | undefined;
  const link64 = Buffer.alloc(64);
  let lastPosition: bigint | undefined;

  const fail = (b: ChainBreak) => {
    first ??= b;
  };

  const link = (head: Head, event: Hashed, line: number | undefined) => {
    const found = event.hash ?? null;
    // chainHash (chain.ts) in hex, through one reused buffer: this runs once per event of the log.
    link64.write(head.hash, 0, 32, 'hex');
    link64.write(event.content, 32, 32, 'hex');
    const expected = hash('sha256', link64, 'hex');
    if (found !== expected) {
      const at = { streamId: event.streamId, revision: event.revision, ...(line === undefined ? {} : { line }) };
      if (found === null) fail({ ...at, reason: 'missing_hash', expected, found, message: `${event.streamId}@${event.revision} carries no hash` });
      else fail({ ...at, reason: 'hash_mismatch', expected, found, message: `${event.streamId}@${event.revision}: the hash does not link to the previous event's (content, metadata, order or stream changed)` });
    }
    head.revision = event.revision;
    head.hash = found ?? expected;
    pinnedCheck(event, found, line);
  };

  /** The digest's recorded hash at this event's revision, if it records one. */
  const pinnedCheck = (event: Hashed, found: string | null, line: number | undefined) => {
    const pinned = recorded.size === 0 ? undefined : recorded.get(event.streamId);
    if (pinned && pinned.revision === event.revision && pinned.hash !== found) {
      const at = { streamId: event.streamId, revision: event.revision, ...(line === undefined ? {} : { line }) };
      fail({ ...at, reason: 'digest_mismatch', expected: pinned.hash, found, message: `${event.streamId}@${event.revision}: the digest recorded another hash for this event` });
    }
  };

  const drain = (head: Head) => {
    for (let next = head.waiting.get(head.revision + 1); next; next = head.waiting.get(head.revision + 1)) {
      head.waiting.delete(head.revision + 1);
      link(head, next.event, next.line);
    }
  };

  const add = (event: Hashed & { readonly position?: bigint }, line?: number): void => {
    events++;
    if (line !== undefined && event.position !== undefined) {
      if (lastPosition !== undefined && event.position <= lastPosition)
        fail({ streamId: event.streamId, revision: event.revision, line, reason: 'position_order', expected: `a position after ${lastPosition}`, found: String(event.position), message: `line ${line}: position ${event.position} does not follow ${lastPosition} (lines moved or repeated)` });
      lastPosition = event.position;
    }
    let head = heads.get(event.streamId);
    if (!head) {
      head = { revision: -1, hash: GENESIS_HEX, waiting: new Map() };
      heads.set(event.streamId, head);
      if (event.revision > 0 && event.hash && (options.anchorPartialStreams === true || (options.anchorPartialStreams === 'linked' && event.prev !== undefined))) {
        anchored++;
        if (event.prev !== undefined) {
          // the previous event's hash, named by the exporter: this event's link is checked as any other
          head.revision = event.revision - 1;
          head.hash = event.prev;
        } else {
          unchecked++;
          head.revision = event.revision;
          head.hash = event.hash;
          pinnedCheck(event, event.hash, line);
          return;
        }
      }
    }
    if (event.revision <= head.revision || head.waiting.has(event.revision)) {
      fail({ streamId: event.streamId, revision: event.revision, ...(line === undefined ? {} : { line }), reason: 'duplicate_revision', expected: null, found: event.hash ?? null, message: `${event.streamId}@${event.revision} appears twice` });
      return;
    }
    if (event.revision > head.revision + 1) {
      head.waiting.set(event.revision, { event, line });
      return;
    }
    link(head, event, line);
    if (head.waiting.size > 0) drain(head);
  };

  return {
    /** The next event in log order (of a file: with its line, and its position checked against the previous line's). */
    add(event: Checked & { readonly position?: bigint }, line?: number): void {
      add({ streamId: event.streamId, revision: event.revision, hash: event.hash, position: event.position, prev: event.prev, content: contentHash({ ...event, data: event.data ?? null }).toString('hex') }, line);
    },
    /** The next event in log order, read in stored form (its JSON as text); its content hash (hex) when computed elsewhere. */
    addStored(event: StoredEvent & { readonly prev?: string | undefined }, content?: string): void {
      add({ streamId: event.streamId, revision: event.revision, hash: event.hash, prev: event.prev, content: content ?? storedContentHash(event, 'hex') });
    },
    /** Ends the check: revisions still missing, and streams shorter than the digest records. */
    finish(): VerifyReport {
      for (const [streamId, head] of heads) {
        if (head.waiting.size === 0) continue;
        const next = Math.min(...head.waiting.keys());
        const after = head.waiting.get(next)!;
        fail({ streamId, revision: head.revision + 1, ...(after.line === undefined ? {} : { line: after.line }), reason: 'missing_event', expected: `revision ${head.revision + 1}`, found: `revision ${next}`, message: `${streamId}: revision ${head.revision + 1} is missing (the next event is revision ${next})` });
      }
      for (const [streamId, pinned] of recorded) {
        const head = heads.get(streamId);
        if (head && head.revision >= pinned.revision) continue;
        fail({ streamId, revision: pinned.revision, reason: 'truncated', expected: pinned.hash, found: head ? head.hash : null, message: head ? `${streamId} ends at revision ${head.revision}; the digest records revision ${pinned.revision}: newer events were deleted` : `${streamId} is gone; the digest records it up to revision ${pinned.revision}` });
      }
      return { events, streams: heads.size, break: first, anchored, unchecked };
    },
    /** Each stream's last verified event (for a digest). */
    heads(): { streamId: string; revision: number; hash: string }[] {
      return [...heads].map(([streamId, head]) => ({ streamId, revision: head.revision, hash: head.hash }));
    },
  };
};

export type ChainVerifier = ReturnType<typeof createChainVerifier>;
