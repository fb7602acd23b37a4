import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_FORMAT, verifyFile, verifyStore } from '../../adapters/audit/check.ts';
import type { TenantDigest } from '../../adapters/audit/digest.ts';
import { eventLine, exportPages, logPages, storedChunk } from '../../adapters/audit/lines.ts';
import { linkHash } from '../../adapters/event-store/chain.ts';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { untilVisible } from '../support/gate.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';
import { startHashThread } from '../../runtime/audit-hash-threads.ts';

interface Db {
  readonly store: EventStore;
  readonly schema: string;
  sql(text: string, params?: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}

const openPglite = async (): Promise<Db> => {
  const instance = await PGlite.create();
  const store = await createSqlEventStore(pgliteDb(instance, { ownsInstance: false }), { schema: 'eventlog' });
  return { store, schema: 'eventlog', sql: (text, params) => instance.query(text, params), close: async () => (await store.close(), await instance.close()) };
};

const openPostgres = async (): Promise<Db> => {
  const schema = uniqueSchema('tamper');
  const store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 2 });
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  return {
    store,
    schema,
    sql: (text, params) => client.query(text, params),
    close: async () => {
      await store.close();
      await client.end();
      await dropSchema(schema);
    },
  };
};

/** Tenant a: its tenant stream (2 events) and a conversation (4); tenant b: its tenant stream (2). */
const populate = async (store: EventStore) => {
  const a = uniqueTenant('a');
  const b = uniqueTenant('b');
  const conversation = `conversation-${a}.c1`;
  await store.append(`tenant-${a}`, [newEvent(a, 'Created', { name: 'sealed:abc' }), newEvent(a, 'Tiered', { tier: 'pro' })], 'no_stream');
  await store.append(`tenant-${b}`, [newEvent(b, 'Created', { name: 'sealed:def' })], 'no_stream');
  for (let i = 0; i < 4; i++) await store.append(conversation, [newEvent(a, 'Posted', { n: i, text: `sealed:${i}` })], i === 0 ? 'no_stream' : i - 1);
  const last = await store.append(`tenant-${b}`, [newEvent(b, 'Tiered', { tier: 'free' })], 0);
  // readers see a position once every transaction begun before it has ended (other sessions' included)
  await untilVisible(store, last.position);
  const digest = (await verifyStore(store, { tenantId: a })).digest!;
  return { a, b, conversation, digest };
};

const hashAt = async (store: EventStore, streamId: string, revision: number) => (await store.readStream(streamId, { fromRevision: revision, maxCount: 1 }))[0]?.hash;

describe.each([
  ['PGlite', openPglite],
  ['PostgreSQL', openPostgres],
])('tampering with the log in the database (%s): verify names the first broken link', (_name, open) => {
  let db: Db;
  beforeAll(async () => {
    db = await open();
  }, 180_000);
  afterAll(async () => db?.close());
  const events = () => `${db.schema}.events`;

  it('an untouched log verifies clean, all tenants and each', async () => {
    const { a, b } = await populate(db.store);
    expect(await verifyStore(db.store, { tenantId: a })).toMatchObject({ events: 6, streams: 2, break: undefined });
    expect(await verifyStore(db.store, { tenantId: b })).toMatchObject({ events: 2, streams: 1, break: undefined });
  });

  it('edited data: the event whose content changed, with the hash the chain expects and the one stored', async () => {
    const { a, conversation } = await populate(db.store);
    const stored = await hashAt(db.store, conversation, 1);
    await db.sql(`UPDATE ${events()} SET data = jsonb_set(data, '{text}', '"forged"') WHERE stream_id = $1 AND revision = 1`, [conversation]);
    const [previous, edited] = await db.store.readStream(conversation, { maxCount: 2 });
    const report = await verifyStore(db.store, { tenantId: a });
    expect(report.break).toMatchObject({ reason: 'hash_mismatch', streamId: conversation, revision: 1, found: stored, expected: linkHash(previous!.hash!, edited!) });
  });

  it('edited data, verified as the CLI does it (content hashes in a thread): the same break', async () => {
    const { a, conversation } = await populate(db.store);
    await db.sql(`UPDATE ${events()} SET data = jsonb_set(data, '{n}', '7') WHERE stream_id = $1 AND revision = 2`, [conversation]);
    const inline = await verifyStore(db.store, { tenantId: a });
    const hasher = await startHashThread();
    try {
      const threaded = await verifyStore(db.store, { tenantId: a, hasher });
      expect(inline.break).toMatchObject({ reason: 'hash_mismatch', streamId: conversation, revision: 2 });
      expect(threaded).toEqual(inline);
    } finally {
      await hasher.close();
    }
  });

  it('edited data, read through readAll only (as from a store without stored-form reads, e.g. EventStoreDB): the same break', async () => {
    const { a, conversation } = await populate(db.store);
    await db.sql(`UPDATE ${events()} SET data = jsonb_set(data, '{n}', '8') WHERE stream_id = $1 AND revision = 3`, [conversation]);
    const { readAllStored: _stored, ...readAllOnly } = db.store;
    const report = await verifyStore(readAllOnly, { tenantId: a });
    expect(report.break).toMatchObject({ reason: 'hash_mismatch', streamId: conversation, revision: 3 });
    expect(report).toEqual(await verifyStore(db.store, { tenantId: a }));
  });

  it('a stream id holding U+001F and a recording time BC (text in another form): stored-form reads give what readAll gives, and verify names the edited stream', async () => {
    const { a, conversation } = await populate(db.store);
    const forged = `${conversation}\u001f.x`;
    await db.sql(`UPDATE ${events()} SET stream_id = $1 WHERE stream_id = $2 AND revision = 3`, [forged, conversation]);
    await db.sql(`UPDATE ${events()} SET recorded_at = '0044-03-15 12:00:00.123456+00 BC' WHERE stream_id = $1 AND revision = 2`, [conversation]);
    const read = await db.store.readAll({ filter: { tenantId: a } });
    const stored = await db.store.readAllStored!({ filter: { tenantId: a } });
    expect(stored.map((e) => ({ ...e, position: BigInt(e.position), data: JSON.parse(e.data) as unknown, metadata: JSON.parse(e.metadata) as unknown, recordedAt: new Date(e.recordedAt) }))).toEqual(read);
    expect(stored.map((e) => e.streamId)).toContain(forged);
    expect(new Date(stored.find((e) => e.streamId === conversation && e.revision === 2)!.recordedAt).getUTCFullYear()).toBe(-43);
    expect((await verifyStore(db.store, { tenantId: a })).break).toMatchObject({ streamId: forged, revision: 0, reason: 'missing_event' });
  });

  it('edited metadata', async () => {
    const { a, conversation } = await populate(db.store);
    await db.sql(`UPDATE ${events()} SET metadata = metadata || '{"actor":"mallory"}' WHERE stream_id = $1 AND revision = 2`, [conversation]);
    expect((await verifyStore(db.store, { tenantId: a })).break).toMatchObject({ reason: 'hash_mismatch', streamId: conversation, revision: 2 });
  });

  it('a deleted middle event', async () => {
    const { a, conversation } = await populate(db.store);
    await db.sql(`DELETE FROM ${events()} WHERE stream_id = $1 AND revision = 1`, [conversation]);
    expect((await verifyStore(db.store, { tenantId: a })).break).toMatchObject({ reason: 'missing_event', streamId: conversation, revision: 1, found: 'revision 2' });
  });

  it('deleted newest events: invisible to the chains alone, named by a digest saved before', async () => {
    const { a, conversation, digest } = await populate(db.store);
    await db.sql(`DELETE FROM ${events()} WHERE stream_id = $1 AND revision >= 2`, [conversation]);
    await db.sql(`UPDATE ${db.schema}.streams SET revision = 1, head = (SELECT hash FROM ${events()} WHERE stream_id = $1 AND revision = 1) WHERE stream_id = $1`, [conversation]);
    expect((await verifyStore(db.store, { tenantId: a })).break).toBeUndefined();
    expect((await verifyStore(db.store, { digest })).break).toMatchObject({
      reason: 'truncated', streamId: conversation, revision: 3, expected: digest.heads.find((h) => h.streamId === conversation)!.hash, found: await hashAt(db.store, conversation, 1),
    });
  });

  it('a rewritten history with every later hash recomputed: only the digest catches it', async () => {
    const { a, conversation, digest } = await populate(db.store);
    await db.sql(`UPDATE ${events()} SET data = jsonb_set(data, '{text}', '"forged"') WHERE stream_id = $1 AND revision = 1`, [conversation]);
    const read = await db.store.readStream(conversation);
    let previous = read[0]!.hash!;
    for (const event of read.slice(1)) {
      previous = linkHash(previous, event);
      await db.sql(`UPDATE ${events()} SET hash = decode($3, 'hex') WHERE stream_id = $1 AND revision = $2`, [conversation, event.revision, previous]);
    }
    expect((await verifyStore(db.store, { tenantId: a })).break).toBeUndefined();
    expect((await verifyStore(db.store, { digest })).break).toMatchObject({ reason: 'digest_mismatch', streamId: conversation, revision: 3, found: previous });
  });

  it('reordered events', async () => {
    const { a, conversation } = await populate(db.store);
    await db.sql(`UPDATE ${events()} SET revision = CASE revision WHEN 1 THEN -2 ELSE -1 END WHERE stream_id = $1 AND revision IN (1, 2)`, [conversation]);
    await db.sql(`UPDATE ${events()} SET revision = CASE revision WHEN -2 THEN 2 ELSE 1 END WHERE stream_id = $1 AND revision < 0`, [conversation]);
    expect((await verifyStore(db.store, { tenantId: a })).break).toMatchObject({ reason: 'hash_mismatch', streamId: conversation, revision: 1 });
  });

  it("an event moved into another tenant's stream: a break in the receiving stream, a truncation in the losing one", async () => {
    const { b, conversation, digest } = await populate(db.store);
    await db.sql(`UPDATE ${events()} SET stream_id = $2, tenant_id = $3, category = 'tenant', revision = 2 WHERE stream_id = $1 AND revision = 3`, [conversation, `tenant-${b}`, b]);
    expect((await verifyStore(db.store, { tenantId: b })).break).toMatchObject({ reason: 'hash_mismatch', streamId: `tenant-${b}`, revision: 2 });
    expect((await verifyStore(db.store, { digest })).break).toMatchObject({ reason: 'truncated', streamId: conversation, revision: 3 });
  });
});

describe('tampering with an exported file: verify names the break and its line', () => {
  let db: Db;
  let dir: string;
  let a: string;
  let b: string;
  let conversation: string;
  let digest: TenantDigest;
  let lines: string[];
  beforeAll(async () => {
    db = await openPglite();
    dir = await mkdtemp(path.join(os.tmpdir(), 'audit-file-'));
    ({ a, b, conversation, digest } = await populate(db.store));
    lines = [JSON.stringify({ format: EXPORT_FORMAT, tenantId: a, from: null, to: null })];
    for await (const page of logPages(db.store, { tenantId: a })) for (const event of page) lines.push(eventLine(event).trimEnd());
  }, 180_000);
  afterAll(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Lines 2.. are events: the tenant stream's 2, then the conversation's 4. */
  const verifyEdited = async (edit: (lines: string[]) => string[], withDigest = false) => {
    const file = path.join(dir, `${Math.random().toString(36).slice(2)}.ndjson`);
    await writeFile(file, `${edit([...lines]).join('\n')}\n`);
    return verifyFile(file, withDigest ? { digest } : {});
  };
  const patch = (line: string, change: (event: Record<string, unknown>) => void) => {
    const event = JSON.parse(line) as Record<string, unknown>;
    change(event);
    return JSON.stringify(event);
  };

  it('an untouched export verifies, and with its digest', async () => {
    expect(await verifyEdited((l) => l, true)).toMatchObject({ events: 6, streams: 2, break: undefined });
  });

  it('edited data, edited metadata', async () => {
    expect((await verifyEdited((l) => ((l[4] = patch(l[4]!, (e) => ((e.data as Record<string, unknown>).text = 'forged'))), l))).break).toMatchObject({
      reason: 'hash_mismatch', streamId: conversation, revision: 1, line: 5,
    });
    expect((await verifyEdited((l) => ((l[5] = patch(l[5]!, (e) => ((e.metadata as Record<string, unknown>).actor = 'mallory'))), l))).break).toMatchObject({
      reason: 'hash_mismatch', streamId: conversation, revision: 2, line: 6,
    });
  });

  it('a deleted middle line, deleted newest lines (named with the digest), reordered lines, a line moved to another tenant', async () => {
    expect((await verifyEdited((l) => (l.splice(4, 1), l))).break).toMatchObject({ reason: 'missing_event', streamId: conversation, revision: 1 });
    expect((await verifyEdited((l) => l.slice(0, -2))).break).toBeUndefined();
    expect((await verifyEdited((l) => l.slice(0, -2), true)).break).toMatchObject({ reason: 'truncated', streamId: conversation, revision: 3 });
    expect((await verifyEdited((l) => ([l[4], l[5]] = [l[5]!, l[4]!], l))).break).toMatchObject({ reason: 'position_order', streamId: conversation, revision: 1, line: 6 });
    const moved = await verifyEdited((l) => [l[0]!, patch(l[6]!, (e) => ((e.streamId = `tenant-${b}`), (e.revision = 0)))]);
    expect(moved.break).toMatchObject({ reason: 'hash_mismatch', streamId: `tenant-${b}`, revision: 0, line: 2 });
  });

  it("a partial export (from the conversation's newest event, the revision the digest pins): the first event of a stream is checked against the digest, and against the previous hash its line names", async () => {
    const newest = lines.length - 1; // the conversation's revision 3, alone in the range
    const from = BigInt((JSON.parse(lines[newest]!) as { position: string }).position);
    const header = JSON.stringify({ format: EXPORT_FORMAT, tenantId: a, from: String(from), to: null });
    let exported = '';
    for await (const page of exportPages(db.store, { tenantId: a, from })) exported += storedChunk(page);
    const withPrev = exported.trimEnd().split('\n');
    expect(withPrev).toHaveLength(1);
    expect(JSON.parse(withPrev[0]!)).toMatchObject({ streamId: conversation, revision: 3, prev: await hashAt(db.store, conversation, 2) });
    // the digest's heads of the streams in the range (the tenant stream has no event in it)
    const pinned = { ...digest, heads: digest.heads.filter((h) => h.streamId === conversation) };
    const partial = async (eventLines: string[], withDigest = false) => {
      const file = path.join(dir, `${Math.random().toString(36).slice(2)}.ndjson`);
      await writeFile(file, `${[header, ...eventLines].join('\n')}\n`);
      return verifyFile(file, withDigest ? { digest: pinned } : {});
    };
    const forged = (line: string) => patch(line, (e) => (((e.data as Record<string, unknown>).text = 'forged'), (e.hash = 'f'.repeat(64))));

    // the exporter's lines: linked to prev, so an edit of the content alone is a hash_mismatch
    expect(await partial(withPrev, true)).toMatchObject({ events: 1, anchored: 1, unchecked: 0, break: undefined });
    expect((await partial([patch(withPrev[0]!, (e) => ((e.data as Record<string, unknown>).text = 'forged'))])).break).toMatchObject({ reason: 'hash_mismatch', streamId: conversation, revision: 3, line: 2 });
    // an older file without prev: taken on trust and said so, but the digest still pins that event
    const withoutPrev = [lines[newest]!];
    expect(await partial(withoutPrev)).toMatchObject({ anchored: 1, unchecked: 1, break: undefined });
    expect((await partial([forged(withoutPrev[0]!)], true)).break).toMatchObject({ reason: 'digest_mismatch', streamId: conversation, revision: 3, line: 2, expected: digest.heads.find((h) => h.streamId === conversation)!.hash });
    expect((await partial([forged(withPrev[0]!)], true)).break).toMatchObject({ reason: 'hash_mismatch', streamId: conversation, revision: 3 });
  });

  it('a malformed line is a parse error naming the line', async () => {
    const file = path.join(dir, 'malformed.ndjson');
    await writeFile(file, `${lines.slice(0, 3).join('\n')}\n{"position":"1",\n${lines[3]}\n`);
    await expect(verifyFile(file)).rejects.toMatchObject({ code: 'malformed_file', message: expect.stringMatching(/^line 4: not JSON/) });
    await writeFile(file, `${lines[0]}\n${patch(lines[1]!, (e) => delete e.streamId)}\n`);
    await expect(verifyFile(file)).rejects.toMatchObject({ code: 'malformed_file', message: expect.stringMatching(/^line 2: not an event line: streamId/) });
    expect(await readFile(file, 'utf8')).toContain('"format"');
  });
});
