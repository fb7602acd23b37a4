import { readFile, rename, writeFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { writeBackup, restoreBackup } from '../adapters/audit/backup.ts';
import { describeReport, EXPORT_FORMAT, verifyFile, verifyStore } from '../adapters/audit/check.ts';
import { makeDigest, parseDigest } from '../adapters/audit/digest.ts';
import type { TenantDigest } from '../adapters/audit/digest.ts';
import { exportPages, fileWriter, storedChunk } from '../adapters/audit/lines.ts';
import { startHashThread } from './audit-hash-threads.ts';
import { tenantStateAsOf } from '../adapters/audit/as-of.ts';
import type { AsOf } from '../adapters/audit/as-of.ts';
import { createChainVerifier } from '../adapters/audit/verify.ts';
import { TENANT_ID_PATTERN } from '../domain/shared/ids.ts';
import { ConfigError, isCalendarDay, loadConfig } from './config.ts';
import type { MasterKeys } from '../adapters/crypto/master-keys.ts';
import { loadStorageMasterKeys } from './encryption.ts';
import { openStorage } from './stores.ts';
import type { Storage } from './stores.ts';

/** The audit, backup and restore commands; each opens the configured storage, runs, closes it. */
const withStorage = async <T>(work: (storage: Storage, master: MasterKeys | undefined) => Promise<T>, needKeys = false): Promise<T> => {
  const config = loadConfig();
  const master = needKeys || config.ENCRYPTION_KEY ? await loadStorageMasterKeys(config) : undefined;
  const storage = await openStorage(config, 'cli', { master });
  try {
    return await work(storage, master);
  } finally {
    await storage.close();
  }
};

const tenantArg = (tenant: string): string => {
  if (!TENANT_ID_PATTERN.test(tenant)) throw new ConfigError(`--tenant: not a tenant id: ${JSON.stringify(tenant)}`);
  return tenant;
};

export const positionArg = (name: string, value: string | undefined): bigint | undefined => {
  if (value === undefined) return undefined;
  if (!/^\d{1,30}$/.test(value)) throw new ConfigError(`${name}: must be a decimal log position, got ${JSON.stringify(value)}`);
  return BigInt(value);
};

/** A progress bar on stderr (a terminal) over log positions, counting events; silent otherwise. */
const progressBar = (label: string, start: bigint, end: bigint | undefined) => {
  if (!process.stderr.isTTY || end === undefined || end <= start) return { tick: (_n: number, _p?: bigint) => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {events} events`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const span = Number(end - start);
  let events = 0;
  bar.start(1000, 0, { events });
  return {
    tick: (n: number, position?: bigint) => {
      events += n;
      bar.update(position === undefined ? bar.getProgress() * 1000 : Math.min(1000, Math.round((Number(position - start) / span) * 1000)), { events });
    },
    stop: () => bar.stop(),
  };
};

/** `audit export`: the tenant's events to an NDJSON file (header first), and beside it the digest of a full export. */
export const auditExport = async (options: { tenant: string; from?: string; to?: string; out?: string }): Promise<void> => {
  const tenantId = tenantArg(options.tenant);
  const from = positionArg('--from', options.from);
  const to = positionArg('--to', options.to);
  const path = options.out ?? `audit-${tenantId}.ndjson`;
  await withStorage(async ({ store }) => {
    const head = await store.headPosition();
    const bar = progressBar('export', from ?? 0n, to ?? head);
    const file = fileWriter(`${path}.partial`);
    const verifier = createChainVerifier({ anchorPartialStreams: from !== undefined });
    let last: bigint | undefined;
    try {
      await file.write(`${JSON.stringify({ format: EXPORT_FORMAT, tenantId, from: from === undefined ? null : String(from), to: to === undefined ? null : String(to), exportedAt: new Date().toISOString() })}\n`);
      for await (const page of exportPages(store, { tenantId, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) })) {
        for (const event of page) verifier.addStored(event);
        await file.write(storedChunk(page));
        last = BigInt(page[page.length - 1]!.position);
        bar.tick(page.length, last);
      }
    } finally {
      bar.stop();
      await file.close();
    }
    await rename(`${path}.partial`, path);
    const report = verifier.finish();
    process.stdout.write(`wrote ${report.events} events of ${tenantId} to ${path}\n`);
    if (from === undefined) {
      const digest = makeDigest(tenantId, last, report.events, verifier.heads());
      await writeFile(`${path}.digest.json`, `${JSON.stringify(digest, null, 2)}\n`);
      process.stdout.write(`digest (keep it elsewhere): ${path}.digest.json  root ${digest.root}\n`);
    }
    process.stdout.write(describeReport(report));
    if (report.break) process.exitCode = 1;
  });
};

/** `audit verify`: the store's chains (all tenants, or one), or an exported file's; against a digest when given. */
export const auditVerify = async (options: { tenant?: string; file?: string; digest?: string }): Promise<void> => {
  const digest: TenantDigest | undefined = options.digest ? parseDigest(await readFile(options.digest, 'utf8')) : undefined;
  if (options.tenant && digest && digest.tenantId !== options.tenant) throw new ConfigError(`--digest is for tenant ${digest.tenantId}, not ${options.tenant}`);
  const report = options.file
    ? await verifyFile(options.file, digest ? { digest } : {})
    : await withStorage(async (storage) => {
        // content hashes in a thread of their own; on the main thread if one cannot start
        const hasher = await startHashThread().catch(() => undefined);
        try {
          return await verifyStore(storage.store, { ...(options.tenant ? { tenantId: tenantArg(options.tenant) } : {}), ...(digest ? { digest } : {}), ...(hasher ? { hasher } : {}) });
        } finally {
          await hasher?.close();
        }
      });
  process.stdout.write(describeReport(report));
  if (report.break) process.exitCode = 1;
};

/** `audit digest`: verifies the tenant's chains and writes its digest. */
export const auditDigest = async (options: { tenant: string; out?: string }): Promise<void> => {
  const tenantId = tenantArg(options.tenant);
  const report = await withStorage((storage) => verifyStore(storage.store, { tenantId }));
  const text = `${JSON.stringify(report.digest, null, 2)}\n`;
  if (options.out) await writeFile(options.out, text);
  else process.stdout.write(text);
  process.stderr.write(describeReport(report));
  if (report.break) process.exitCode = 1;
};

/** A time of day must say its UTC offset (`Z` or `±hh:mm`), as the API requires: never the machine's own time zone. */
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
const PLAIN_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** `--as-of`: a decimal log position, an ISO 8601 time with its UTC offset, or a plain day (its start, UTC). */
export const asOfArg = (value: string | undefined): AsOf => {
  if (value === undefined) return { time: new Date() };
  if (/^\d{1,30}$/.test(value)) return { position: BigInt(value) };
  const time = new Date(value);
  if (!(WITH_OFFSET.test(value) || PLAIN_DAY.test(value)) || !isCalendarDay(value.slice(0, 10)) || Number.isNaN(time.getTime()))
    throw new ConfigError(`--as-of: a decimal log position or an ISO 8601 time with its UTC offset (e.g. 2026-03-03T00:00:00Z), got ${JSON.stringify(value)}`);
  return { time };
};

/** `audit state`: the tenant's aggregates at a point, folded from the log. */
export const auditState = async (options: { tenant: string; asOf?: string }): Promise<void> => {
  const tenantId = tenantArg(options.tenant);
  const asOf = asOfArg(options.asOf);
  const state = await withStorage((storage) => tenantStateAsOf({ store: storage.store, codec: storage.codec }, tenantId, asOf), true);
  if (state.future) process.stderr.write('the point lies beyond the newest event: this is the current state\n');
  process.stdout.write(`${JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
};

/** `backup`: the whole log and every wrapped data key to one file. */
export const backup = async (options: { out: string }): Promise<void> => {
  await withStorage(async ({ store, keys }) => {
    if (!keys) throw new ConfigError('backup needs the data keys: set ENCRYPTION_KEY');
    const bar = progressBar('backup', 0n, await store.headPosition());
    const file = fileWriter(`${options.out}.partial`);
    let report;
    try {
      report = await writeBackup({ store, keys }, file.write, (n, position) => bar.tick(n, position));
    } finally {
      bar.stop();
      await file.close();
    }
    await rename(`${options.out}.partial`, options.out);
    process.stdout.write(`backup written to ${options.out}\n${describeReport(report)}`);
    if (report.break) process.exitCode = 1;
  }, true);
};

/** `restore`: a backup into an empty store (refused otherwise); the projector rebuilds the read models from it. */
export const restore = async (options: { file: string }): Promise<void> => {
  await withStorage(async ({ store, keys }, master) => {
    const restored = await restoreBackup(
      {
        store,
        keys: keys!,
        checkKeys: (wrapped) => {
          const unknown = [...new Set(wrapped.flatMap((k) => (k.masterKeyId && !master?.byId(k.masterKeyId) ? [k.masterKeyId] : [])))];
          if (unknown.length > 0) throw new ConfigError(`the backup's data keys are wrapped by master key ${unknown.join(', ')}: set ENCRYPTION_KEY (or ENCRYPTION_PREVIOUS_KEYS) to it; nothing was written`);
        },
      },
      options.file,
      (phase, n) => {
        if (process.stderr.isTTY && n > 0) process.stderr.write(`\r${phase === 'check' ? 'checking' : 'restoring'}… ${n} more events`);
      },
    );
    process.stdout.write(`\nrestored ${restored.events} events in ${restored.streams} streams and ${restored.keys} data keys; every chain verifies. Start the projector to build the read models.\n`);
  }, true);
};
