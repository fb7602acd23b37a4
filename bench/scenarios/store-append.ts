import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { createPostgresEventStore, pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore, NewEvent } from '../../domain/ports/event-store.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { parseStreamId } from '../../domain/shared/streams.ts';
import { benchCodec } from '../codec.ts';
import { closedLoop, payload, round, seconds } from '../lib.ts';
import type { BenchResult } from '../lib.ts';

const WRITERS = 32;
const APPEND_CONCURRENCY = Number(process.env.BENCH_APPEND_CONCURRENCY ?? 2);
const STREAMS = 1_000;
const TENANT = 'benchtenant';

const meta = { tenantId: TENANT, actor: 'bench', correlationId: 'bench', causationId: null };

/** A chat message event as the platform writes it: through the codec (validated, its text encrypted when the codec holds keys). */
const viaCodec =
  (codec: EventCodec) =>
  async (stream: string, n: number): Promise<NewEvent> => {
    const { messageId, text, at } = payload(n);
    const event = { type: 'MessagePosted', data: { messageId, role: 'user', channel: 'api', text, external: null, inReplyTo: null, at } } as const;
    const [encoded] = await codec.encode('conversation', stream, [{ id: randomUUID(), event }], { ...meta, tenantId: parseStreamId(stream).tenantId });
    return encoded!;
  };

const raw = async (_stream: string, n: number): Promise<NewEvent> => ({ id: randomUUID(), type: 'MessagePosted', data: payload(n), metadata: meta });

/** 32 writers, each appending one event at a time with the exact expected revision to a stream no other writer holds. */
const appendLoad = async (
  store: EventStore,
  secs: number,
  encode: (stream: string, n: number) => Promise<NewEvent> = raw,
  tenant: string = TENANT,
) => {
  const revisions = new Array<number>(STREAMS).fill(-1);
  const busy = new Set<number>();
  let n = 0;
  return closedLoop({
    workers: WRITERS,
    seconds: secs,
    op: async () => {
      let s = Math.floor(Math.random() * STREAMS);
      while (busy.has(s)) s = (s + 1) % STREAMS;
      busy.add(s);
      const expected = revisions[s]! < 0 ? 'no_stream' : revisions[s]!;
      const stream = `conversation-${tenant}.s${s}`;
      const result = await store.append(stream, [await encode(stream, n++)], expected);
      revisions[s] = result.nextRevision;
      busy.delete(s);
    },
  });
};

type Loop = Awaited<ReturnType<typeof closedLoop>>;

/** One result line for an append scenario against its same-run INSERT baseline. */
const appendResult = (scenario: string, ours: Loop, baseline: Loop, baselineName: string, setup: string): BenchResult => ({
  scenario,
  metric: 'appends_per_second',
  value: round(ours.perSecond, 0),
  unit: 'appends/s',
  p50: round(ours.p50),
  p99: round(ours.p99),
  baseline: { name: baselineName, value: round(baseline.perSecond, 0) },
  ratio: round(ours.perSecond / baseline.perSecond),
  notes: `${setup}; baseline p50 ${round(baseline.p50)} ms p99 ${round(baseline.p99)} ms; ${ours.ops} appends`,
});

const BASELINE_TABLE = `CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial PRIMARY KEY, stream_id text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL)`;
const BASELINE_INSERT = `INSERT INTO bench_baseline (stream_id, data, metadata) VALUES ($1, $2, $3)`;

export const storeAppend = async (url: string): Promise<BenchResult> => {
  const secs = seconds(10);
  const schema = `bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}; SET search_path = ${schema}; ${BASELINE_TABLE}`);
  try {
    // Baseline: a plain single-row INSERT + commit per operation, 32 connections, same database.
    const clients = await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
        await c.connect();
        return c;
      }),
    );
    const meta = JSON.stringify({ tenantId: TENANT, actor: 'bench', correlationId: 'bench', causationId: null });
    let n = 0;
    const baseline = await closedLoop({
      workers: WRITERS,
      seconds: secs,
      op: async (w) => {
        await clients[w]!.query(BASELINE_INSERT, [`s${n % STREAMS}`, JSON.stringify(payload(n++)), meta]);
      },
    });
    await Promise.all(clients.map((c) => c.end()));

    const store = await createPostgresEventStore({ connectionString: url, schema, poolSize: 8, appendConcurrency: APPEND_CONCURRENCY });
    // the same store without the hash chain (no content hash, no link under the lock): what hashing costs
    const unchainedStore = await createPostgresEventStore({ connectionString: url, schema, poolSize: 8, appendConcurrency: APPEND_CONCURRENCY, unchained: true });
    const keysDb = pgPoolDb(url, 2);
    const on = viaCodec(await benchCodec(keysDb, schema, true));
    const off = viaCodec(await benchCodec(keysDb, schema, false));
    // Encryption on and off, hashing on and off, alternate in halves, each on streams of its own, so drift hits all alike.
    const runs: Record<'on' | 'off' | 'unchained', Loop[]> = { on: [], off: [], unchained: [] };
    for (let round_ = 0; round_ < 2; round_++) {
      runs.on.push(await appendLoad(store, secs / 2, on, asTenantId(`${TENANT}on${round_}`)));
      runs.off.push(await appendLoad(store, secs / 2, off, asTenantId(`${TENANT}off${round_}`)));
      runs.unchained.push(await appendLoad(unchainedStore, secs / 2, on, asTenantId(`${TENANT}unchained${round_}`)));
    }
    await store.close();
    await unchainedStore.close();
    await keysDb.close();
    const merged = (loops: Loop[]): Loop => ({
      ops: loops.reduce((sum, l) => sum + l.ops, 0),
      perSecond: loops.reduce((sum, l) => sum + l.perSecond, 0) / loops.length,
      p50: Math.max(...loops.map((l) => l.p50)),
      p99: Math.max(...loops.map((l) => l.p99)),
    });
    const ours = merged(runs.on);
    const plain = merged(runs.off);
    const unhashed = merged(runs.unchained);
    const result = appendResult(
      'store-append',
      ours,
      baseline,
      'single-row INSERT + commit, 32 connections',
      `${WRITERS} writers over ${STREAMS} streams, single-event appends (MessagePosted through the codec, text encrypted, hash-chained) with exact expected revision, ${secs}s; pool 8, ${APPEND_CONCURRENCY} group-commit batches in flight; same run, alternating halves: encryption off ${round(plain.perSecond, 0)} appends/s p99 ${round(plain.p99)} ms; hash chain off ${round(unhashed.perSecond, 0)} appends/s p99 ${round(unhashed.p99)} ms`,
    );
    return {
      ...result,
      extra: {
        encryptionOffPerSecond: round(plain.perSecond, 0),
        encryptionOffP99: round(plain.p99),
        encryptionCost: round(1 - ours.perSecond / plain.perSecond, 3),
        hashingOffPerSecond: round(unhashed.perSecond, 0),
        hashingOffP99: round(unhashed.p99),
        hashingCost: round(1 - ours.perSecond / unhashed.perSecond, 3),
      },
    };
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
};

export const storeAppendEmbedded = async (): Promise<BenchResult> => {
  const secs = seconds(10);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-pglite-'));
  const db = await PGlite.create(dir);
  try {
    await db.exec(BASELINE_TABLE);
    const meta = JSON.stringify({ tenantId: TENANT, actor: 'bench', correlationId: 'bench', causationId: null });
    let n = 0;
    const baseline = await closedLoop({
      workers: WRITERS,
      seconds: secs,
      op: async () => {
        await db.query(BASELINE_INSERT, [`s${n % STREAMS}`, JSON.stringify(payload(n++)), meta]);
      },
    });
    const store = await createSqlEventStore(pgliteDb(db, { ownsInstance: false }));
    const ours = await appendLoad(store, secs);
    await store.close();
    return appendResult(
      'store-append-embedded',
      ours,
      baseline,
      'single-row INSERT on the same PGlite',
      `PGlite in a data folder, ${WRITERS} concurrent writers over ${STREAMS} streams, ${secs}s each`,
    );
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
};
