import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { verifyStore } from '../../adapters/audit/check.ts';
import { fileWriter } from '../../adapters/audit/lines.ts';
import { createAuditLog } from '../../adapters/audit/service.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { startHashThread } from '../../runtime/audit-hash-threads.ts';
import { benchCodec } from '../codec.ts';
import { atBenchEnd, round } from '../lib.ts';
import type { BenchResult } from '../lib.ts';
import { seedLog } from './seed-log.ts';

const EVENTS = Number(process.env.BENCH_AUDIT_EVENTS ?? 1_000_000);

interface SeededLog {
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly schema: string;
  readonly tenants: string[];
  readonly events: number;
}

let seeded: Promise<SeededLog> | undefined;

/** One log of EVENTS events (seed-log: encrypted, hash-chained) shared by both audit scenarios of a run, dropped at its end. */
const auditLog = (url: string): Promise<SeededLog> =>
  (seeded ??= (async () => {
    const schema = `bench_audit_${process.pid}`;
    const db = pgPoolDb(url, 8, 2);
    const store = await createSqlEventStore(db, { schema });
    const codec = await benchCodec(pgPoolDb(url, 2), schema, true);
    const started = performance.now();
    const events = await seedLog(store, codec, EVENTS, (n) => process.stderr.write(`\rseeding the audit log: ${n} events`));
    process.stderr.write(`\rseeded ${events} events in ${round((performance.now() - started) / 1000, 1)} s\n`);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    // A log in its steady state: statistics for the planner, and hint bits and the visibility map set,
    // so that whichever reader comes first does not pay for writing every page back.
    await admin.query(`VACUUM ANALYZE ${schema}.events`);
    const tenants = (await admin.query<{ t: string }>(`SELECT DISTINCT tenant_id AS t FROM ${schema}.events ORDER BY 1`)).rows.map((r) => r.t);
    await admin.end();
    atBenchEnd(async () => {
      await store.close();
      const drop = new pg.Client({ connectionString: url });
      await drop.connect();
      await drop.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await drop.end();
    });
    return { store, codec, schema, tenants, events };
  })());

const devNull = () => fileWriter('/dev/null');

const BASELINE = 'plain SELECT of the same rows in position order, streamed by COPY to /dev/null';

/**
 * Baseline: what PostgreSQL itself delivers — one plain SELECT of every row the export reads (all
 * tenants, position order, every column, hashes as hex), streamed by COPY in its text format to
 * /dev/null with no per-row work in Node.
 */
const plainSelect = async (url: string, log: SeededLog): Promise<{ rows: number; seconds: number }> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  try {
    const copy = client.query(
      copyTo(`COPY (SELECT position, stream_id, revision, event_id, type, data, metadata, recorded_at, encode(hash, 'hex') AS hash FROM ${log.schema}.events ORDER BY position) TO STDOUT`),
    );
    await pipeline(copy, createWriteStream('/dev/null'));
    return { rows: Number(copy.rowCount), seconds: (performance.now() - started) / 1000 };
  } finally {
    await client.end();
  }
};

const auditResult = (scenario: string, perSecond: number, baseline: { rows: number; seconds: number }, notes: string): BenchResult => {
  const basePerSecond = baseline.rows / baseline.seconds;
  return {
    scenario,
    metric: 'events_per_second',
    value: round(perSecond, 0),
    unit: 'events/s',
    p50: null,
    p99: null,
    baseline: { name: BASELINE, value: round(basePerSecond, 0) },
    ratio: round(perSecond / basePerSecond),
    notes,
  };
};

export const auditExportBench = async (url: string): Promise<BenchResult> => {
  const log = await auditLog(url);
  const audit = createAuditLog({ store: log.store, codec: log.codec });
  const baseline = await plainSelect(url, log);
  const out = devNull();
  const started = performance.now();
  let bytes = 0;
  for (const tenant of log.tenants)
    for await (const chunk of audit.events(tenant, {})) {
      bytes += chunk.length;
      await out.write(chunk);
    }
  await out.close();
  const secs = (performance.now() - started) / 1000;
  return auditResult('audit-export', log.events / secs, baseline,
    `${log.events} events of ${log.tenants.length} tenants (seed-log, encrypted, hash-chained) exported tenant by tenant as the API does (stored-form pages of 500 doubling to 5,000, one read ahead, one packed text column a row → NDJSON with hashes written a page at a time) to /dev/null in ${round(secs, 1)} s (${round(bytes / 1e6, 0)} MB); baseline ${round(baseline.seconds, 1)} s; target ≥ 200,000 events/s`);
};

export const auditVerifyBench = async (url: string): Promise<BenchResult> => {
  const log = await auditLog(url);
  const baseline = await plainSelect(url, log);
  const hasher = await startHashThread();
  const started = performance.now();
  const report = await verifyStore(log.store, { hasher }).finally(() => hasher.close());
  const secs = (performance.now() - started) / 1000;
  if (report.break) throw new Error(`the seeded log does not verify: ${report.break.message}`);
  return auditResult('audit-verify', report.events / secs, baseline,
    `${report.events} events in ${report.streams} streams: every chain recomputed as audit verify does (canonical JSON from the stored text + sha256 per event in a hash thread, the link's sha256 on the main thread) reading the whole log in stored-form pages (one packed text column a row, one page read ahead), ${round(secs, 1)} s; baseline ${round(baseline.seconds, 1)} s; target ≥ 150,000 events/s`);
};
