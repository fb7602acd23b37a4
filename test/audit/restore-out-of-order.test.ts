import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { restoreBackup, writeBackup } from '../../adapters/audit/backup.ts';
import { verifyStore } from '../../adapters/audit/check.ts';
import { fileWriter } from '../../adapters/audit/lines.ts';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { encodeAppend } from '../../adapters/event-store/validate.ts';
import { untilVisible } from '../support/gate.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const schema = uniqueSchema('rv_ooo');
afterAll(async () => dropSchema(schema));

it('restores a backup whose stream has a revision at a lower position than the one before it (verify accepts such a log)', async () => {
  const store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 2 });
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rv-ooo-'));
  const pglite = await PGlite.create();
  const target = await createSqlEventStore(pgliteDb(pglite, { ownsInstance: false }), { schema: 'eventlog' });
  try {
    const t = uniqueTenant('o');
    const stream = `tenant-${t}`;
    // A: an `any` append whose transaction took its id (its position base) first, but commits second
    await client.query('BEGIN');
    await client.query('SELECT pg_current_xact_id()');
    await store.append(stream, [newEvent(t, 'Created', { n: 0 })], 'no_stream'); // revision 0, higher position
    const enc = encodeAppend(stream, [newEvent(t, 'Tiered', { n: 1 })], 'any');
    const e = enc.events[0]!;
    const batch = `[{"s":${JSON.stringify(stream)},"x":"any","t":${JSON.stringify(enc.tenantId)},"c":${JSON.stringify(enc.category)},"e":[{"id":"${e.id}","ty":${JSON.stringify(e.type)},"d":${e.data},"m":${e.metadata},"h":"${e.contentHash}"}]}]`;
    const { rows } = await client.query<{ status: string; revision: string; pos: string }>(`SELECT status, revision, pos FROM ${schema}.append_batch($1::jsonb)`, [batch]);
    await client.query('COMMIT');
    expect(rows[0]).toMatchObject({ status: 'ok', revision: '1' });
    await untilVisible(store, BigInt(rows[0]!.pos));
    const [r0, r1] = await store.readStream(stream);
    expect(r1!.position < r0!.position).toBe(true); // revision 1 sits before revision 0 in log order
    expect((await verifyStore(store)).break).toBeUndefined(); // verify holds revision 1 until 0 comes

    const file = path.join(dir, 'backup.ndjson');
    const out = fileWriter(file);
    const report = await writeBackup({ store, keys: { exportWrapped: async () => [] } }, out.write);
    await out.close();
    expect(report.break).toBeUndefined();
    expect((await readFile(file, 'utf8')).indexOf('"revision":1') < (await readFile(file, 'utf8')).indexOf('"revision":0')).toBe(true);

    const restored = await restoreBackup({ store: target, keys: { importWrapped: async () => undefined } }, file);
    expect(restored).toMatchObject({ events: 2, streams: 1 });
  } finally {
    await target.close();
    await pglite.close();
    await store.close();
    await client.end();
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
