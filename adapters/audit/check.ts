import type { EventStore, StoredEvent } from '../../domain/ports/event-store.ts';
import type { TenantDigest } from './digest.ts';
import { makeDigest } from './digest.ts';
import { fileLines, parseJsonLine, storedPages, toEvent } from './lines.ts';
import type { ChainVerifier, VerifyReport } from './verify.ts';
import { createChainVerifier } from './verify.ts';

export const EXPORT_FORMAT = 'openclaw-audit-export/1';
export const BACKUP_FORMAT = 'openclaw-backup/1';

type Progress = (events: number) => void;

/** Content hashes (hex, in order) of a page of stored events, computed elsewhere: runtime/audit-hash-threads.ts. */
export interface ContentHasher {
  contentHashes(page: readonly StoredEvent[]): Promise<string[]>;
}

/**
 * Recomputes the chains of the whole log, or one tenant's, read through the port in stored form. With
 * a hasher, a page's content hashes are computed there while this thread reads the next page and links
 * the chains of the one before.
 */
export const verifyStore = async (
  store: EventStore,
  options: { tenantId?: string; digest?: TenantDigest; onProgress?: Progress; hasher?: ContentHasher } = {},
): Promise<VerifyReport & { heads: ReturnType<ChainVerifier['heads']>; digest?: TenantDigest }> => {
  const tenantId = options.tenantId ?? options.digest?.tenantId;
  const verifier = createChainVerifier(options.digest ? { digest: options.digest } : {});
  const hasher = options.hasher;
  let last: bigint | undefined;
  const done = (page: readonly StoredEvent[]) => {
    last = BigInt(page[page.length - 1]!.position);
    options.onProgress?.(page.length);
  };
  let hashing: { page: StoredEvent[]; hashes: Promise<string[]> } | undefined;
  try {
    for await (const page of storedPages(store, tenantId ? { tenantId } : {})) {
      if (!hasher) {
        for (const event of page) verifier.addStored(event);
        done(page);
        continue;
      }
      const next = { page, hashes: hasher.contentHashes(page) };
      next.hashes.catch(() => undefined); // awaited in turn below
      if (hashing) {
        const hashes = await hashing.hashes;
        hashing.page.forEach((event, i) => verifier.addStored(event, hashes[i]));
        done(hashing.page);
      }
      hashing = next;
    }
    if (hashing) {
      const hashes = await hashing.hashes;
      hashing.page.forEach((event, i) => verifier.addStored(event, hashes[i]));
      done(hashing.page);
      hashing = undefined;
    }
  } finally {
    await hashing?.hashes.catch(() => undefined);
  }
  const report = { ...verifier.finish(), heads: verifier.heads() };
  return tenantId ? { ...report, digest: makeDigest(tenantId, last, report.events, report.heads) } : report;
};

/**
 * Recomputes the chains of an exported file (or a backup). A file that starts mid-log (its header
 * has `from`) starts each stream at its first event in it, linked to the `prev` hash its line names
 * (on trust if it names none); a full one must hold every stream from revision 0. A file without a
 * header (the API's answer as delivered) starts a stream mid-log only where its first line names
 * `prev` (a ranged answer). Lines that are not JSON, or not events, stop the check with their line number.
 */
export const verifyFile = async (path: string, options: { digest?: TenantDigest; onProgress?: Progress } = {}): Promise<VerifyReport> => {
  let verifier: ReturnType<typeof createChainVerifier> | undefined;
  const start = (partial: boolean | 'linked') => createChainVerifier({ anchorPartialStreams: partial, ...(options.digest ? { digest: options.digest } : {}) });
  let counted = 0;
  for await (const { text, line } of fileLines(path)) {
    const json = parseJsonLine(text, line);
    const header = typeof json === 'object' && json !== null && 'format' in json ? (json as { format: unknown; from?: unknown }) : undefined;
    if (header && verifier === undefined && (header.format === EXPORT_FORMAT || header.format === BACKUP_FORMAT)) {
      verifier = start(header.from !== undefined && header.from !== null);
      continue;
    }
    if (typeof json === 'object' && json !== null && (json as { kind?: unknown }).kind === 'key') continue; // a backup's data keys
    // no header (the API's answer): a stream's first line that names its previous hash starts mid-log
    verifier ??= start('linked');
    verifier.add(toEvent(json, line), line);
    if (++counted % 10_000 === 0) options.onProgress?.(10_000);
  }
  options.onProgress?.(counted % 10_000);
  return (verifier ?? start('linked')).finish();
};

/** A report as lines a person reads. */
export const describeReport = (report: VerifyReport): string => {
  const summary = `${report.events} events in ${report.streams} streams`;
  const anchors = !report.anchored
    ? ''
    : report.unchecked
      ? `; ${report.anchored} streams start mid-log, ${report.unchecked} of them taken on trust from their first event (its line names no previous hash: its content is unchecked)`
      : `; ${report.anchored} streams start mid-log, each linked to the previous hash its first line names`;
  if (!report.break) return `ok: every chain holds (${summary}${anchors})\n`;
  const b = report.break;
  return (
    `BROKEN: ${b.message}\n  stream:   ${b.streamId}\n  revision: ${b.revision}\n` +
    `${b.line === undefined ? '' : `  line:     ${b.line}\n`}  expected: ${b.expected ?? '(nothing)'}\n  found:    ${b.found ?? '(nothing)'}\n  reason:   ${b.reason}\n  (${summary} read)\n`
  );
};
