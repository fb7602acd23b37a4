import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { untilVisible, waitFor } from '../support/gate.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

describe('PostgreSQL event store when the database goes away', () => {
  const schema = uniqueSchema('outage');
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let store: EventStore;
  let direct: EventStore;
  beforeAll(async () => {
    const url = new URL(TEST_DATABASE_URL);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    direct = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema });
    store = await createPostgresEventStore({ connectionString: url.toString(), schema, poolSize: 2 });
  });
  afterAll(async () => {
    await store.close();
    await direct.close();
    await proxy.close();
    await dropSchema(schema);
  });

  it('answers a typed unavailable error, writes nothing partial, and recovers when the database returns', async () => {
    const t = uniqueTenant();
    const stream = `tenant-${t}`;
    await store.append(stream, [newEvent(t, 'Before')], 'no_stream');
    const seen: RecordedEvent[] = [];
    const subscription = store.subscribe({ filter: { tenantId: t } }, (events) => void seen.push(...events));
    await waitFor(() => seen.length === 1);

    proxy.cut();
    const during = [newEvent(t, 'During1'), newEvent(t, 'During2')];
    await expect(store.append(stream, during, 0)).rejects.toMatchObject({ code: 'store_unavailable', kind: 'unavailable' });
    await expect(store.readStream(stream)).rejects.toMatchObject({ code: 'store_unavailable' });
    expect((await direct.readStream(stream)).map((e) => e.type)).toEqual(['Before']);

    proxy.restore();
    await waitFor(async () => (await store.append(stream, during, 0).then(() => true).catch(() => false)), 10_000, 'recovery');
    expect((await direct.readStream(stream)).map((e) => e.type)).toEqual(['Before', 'During1', 'During2']);
    await waitFor(() => seen.length === 3, 10_000, 'subscription to resume');
    await subscription.close();
    expect(seen.map((e) => e.type)).toEqual(['Before', 'During1', 'During2']);
  });
});

describe('PostgreSQL event store: one failing append in a group commit', () => {
  const schema = uniqueSchema('poison');
  let store: EventStore;
  beforeAll(async () => {
    store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, appendConcurrency: 1 });
    // A database-side refusal that append validation cannot foresee (think: a CHECK added by an operator).
    const admin = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema });
    await admin.close();
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    await client.query(`CREATE FUNCTION ${schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = '22023'; END $$;
      CREATE TRIGGER poison BEFORE INSERT ON ${schema}.events FOR EACH ROW WHEN (NEW.type = 'Poison') EXECUTE FUNCTION ${schema}.refuse();`);
    await client.end();
  });
  afterAll(async () => {
    await store.close();
    await dropSchema(schema);
  });

  it('fails only that append; the others gathered into the same batch are written', async () => {
    const t = uniqueTenant();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => store.append(`conversation-${t}.c${i}`, [newEvent(t, i === 17 ? 'Poison' : 'Fine')], 'no_stream')),
    );
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [[i, (o.reason as { code?: string }).code]] : []));
    expect(failed).toEqual([[17, 'invalid_append']]);
    const positions = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.position] : []));
    await untilVisible(store, positions.reduce((max, p) => (p > max ? p : max)));
    expect(await store.readAll({ filter: { tenantId: t } })).toHaveLength(39);
  });
});
