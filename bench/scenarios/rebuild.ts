import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { migrateReadModels } from '../../adapters/projections/projector.ts';
import { rebuildProjections } from '../../adapters/projections/rebuild.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { round } from '../lib.ts';
import type { BenchResult } from '../lib.ts';
import { createEventCodec } from '../../adapters/codec/index.ts';
import { benchCodec } from '../codec.ts';
import { seedLog } from './seed-log.ts';

const EVENTS = Number(process.env.BENCH_REBUILD_EVENTS ?? 1_000_000);

/** Baseline: COPY the rows the read models end up holding into empty twins of their tables. */
const copyBaseline = async (url: string, schema: string): Promise<number> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let seconds = 0;
    for (const table of PROJECTIONS.flatMap((p) => p.tables)) {
      const name = `${schema}.${table.name}`;
      const chunks: Buffer[] = [];
      const sink = new PassThrough();
      sink.on('data', (c: Buffer) => chunks.push(c));
      await pipeline(client.query(copyTo(`COPY ${name} TO STDOUT`)), sink);
      await client.query(`CREATE TABLE ${name}_copy (LIKE ${name} INCLUDING ALL)`);
      const started = performance.now();
      const source = new PassThrough();
      const done = pipeline(source, client.query(copyFrom(`COPY ${name}_copy FROM STDIN`)));
      source.end(Buffer.concat(chunks));
      await done;
      seconds += (performance.now() - started) / 1000;
    }
    return seconds;
  } finally {
    await client.end();
  }
};

export const rebuildBench = async (url: string): Promise<BenchResult> => {
  const events = `bench_rb_ev_${process.pid}`;
  const schema = `bench_rb_rm_${process.pid}`;
  const db = pgPoolDb(url, 4);
  const store = await createSqlEventStore(pgPoolDb(url, 8), { schema: events });
  try {
    const seedStarted = performance.now();
    const written = await seedLog(store, await benchCodec(db, events, true), EVENTS);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    await migrateReadModels(db, schema, PROJECTIONS);
    // the rebuild decodes without decrypting: personal data stays ciphertext in the read models
    const result = await rebuildProjections({ db, store, codec: createEventCodec({ keys: null }), schema, projections: PROJECTIONS });
    const copySeconds = await copyBaseline(url, schema);
    const ours = result.applied / result.seconds;
    const baseline = written / copySeconds;
    return {
      scenario: 'rebuild',
      metric: 'events_per_second',
      value: round(ours, 0),
      unit: 'events/s',
      p50: null,
      p99: null,
      baseline: { name: 'COPY of the resulting read-model rows (events per second of COPY time)', value: round(baseline, 0) },
      ratio: round(ours / baseline),
      notes: `${written} events (seeded in ${round(seedSeconds, 1)} s) into all ${PROJECTIONS.length} projections in ${round(result.seconds, 1)} s, batches of 5000; COPY of the same rows took ${round(copySeconds, 2)} s`,
    };
  } finally {
    await store.close();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${events} CASCADE`).catch(() => undefined);
    await db.close();
  }
};
