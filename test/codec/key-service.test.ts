import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventCodec } from '../../adapters/codec/index.ts';
import { createSqlKeyService } from '../../adapters/crypto/key-service.ts';
import { masterKeyId, masterKeysFrom } from '../../adapters/crypto/master-keys.ts';
import { createPostgresEventStore, pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { loadConfig } from '../../runtime/config.ts';
import { loadMasterKeys } from '../../runtime/encryption.ts';
import { openStorage } from '../../runtime/stores.ts';
import { newMasterKey } from '../support/codec.ts';
import { meta, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const at = '2026-11-30T12:00:00.000Z';

describe('key service: master keys wrap tenant data keys, and rotate without touching events', () => {
  const schema = uniqueSchema('keys');
  const db = pgPoolDb(TEST_DATABASE_URL, 2);
  let store: EventStore;
  beforeAll(async () => {
    store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 2 });
  });
  afterAll(async () => {
    await store.close();
    await db.close();
    await dropSchema(schema);
  });

  const createdBy = async (keysOf: Parameters<typeof createEventCodec>[0]['keys'], t: string) => {
    const codec = createEventCodec({ keys: keysOf });
    const stream = `tenant-${t}`;
    const event = { type: 'TenantCreated', data: { tenantId: asTenantId(t), name: `Name of ${t}`, email: null, tier: 'free', at } } as const;
    await store.append(stream, await codec.encode('tenant', stream, [{ id: randomUUID(), event }], meta(t)), 'no_stream');
  };
  const eventsTable = async () => (await db.query(`SELECT event_id, data::text, metadata::text FROM ${schema}.events ORDER BY position`)).rows;
  const namesWith = async (keysOf: Parameters<typeof createEventCodec>[0]['keys']) =>
    (await createEventCodec({ keys: keysOf }).decode(await store.readAll({ maxCount: 100 }), 'open')).map((e) => (e.type === 'TenantCreated' ? e.data.name : ''));

  it('stores only wrapped keys; re-wrapping under a new master key keeps every event readable and unchanged', async () => {
    const oldKey = newMasterKey();
    const newKey = newMasterKey();
    const before = await createSqlKeyService({ db, schema, master: masterKeysFrom(oldKey) });
    const tenants = [uniqueTenant(), uniqueTenant(), uniqueTenant()];
    for (const t of tenants) await createdBy(before, t);
    const { rows } = await db.query<{ master_key_id: string; len: number }>(`SELECT master_key_id, length(wrapped) AS len FROM ${schema}.data_keys`);
    expect(rows.map((r) => [r.master_key_id, r.len])).toEqual(tenants.map(() => [masterKeyId(Buffer.from(oldKey, 'base64')), 12 + 32 + 16]));
    const log = await eventsTable();

    // rotation: the new key is current, the old one still unwraps until every data key moved
    const rotating = await createSqlKeyService({ db, schema, master: masterKeysFrom(newKey, [oldKey]) });
    expect(await namesWith(rotating)).toEqual(tenants.map((t) => `Name of ${t}`));
    expect(await rotating.rewrap()).toEqual({ rewrapped: 3 });
    expect(await rotating.rewrap()).toEqual({ rewrapped: 0 });

    const after = await createSqlKeyService({ db, schema, master: masterKeysFrom(newKey) });
    await after.assertMasterKeys();
    expect(await namesWith(after)).toEqual(tenants.map((t) => `Name of ${t}`));
    expect(await eventsTable()).toEqual(log);
    const oldOnly = await createSqlKeyService({ db, schema, master: masterKeysFrom(oldKey) });
    await expect(oldOnly.assertMasterKeys()).rejects.toMatchObject({ code: 'master_key_missing' });
  });

  it('refuses to start when a data key is wrapped by a master key that is not configured, naming the key id', async () => {
    const events = uniqueSchema('keys_start');
    const readModels = uniqueSchema('keys_start_rm');
    const first = newMasterKey();
    const env = { DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE_SCHEMA: events, READ_MODEL_SCHEMA: readModels, ENCRYPTION_KEY: first };
    try {
      const config = loadConfig(env);
      const storage = await openStorage(config, 'test', { master: await loadMasterKeys(config, 'required') });
      await storage.keys!.cipherFor('acme', { create: true });
      await storage.close();
      const other = loadConfig({ ...env, ENCRYPTION_KEY: newMasterKey() });
      const id = masterKeyId(Buffer.from(first, 'base64'));
      await expect(openStorage(other, 'test', { master: await loadMasterKeys(other, 'required') })).rejects.toMatchObject({
        name: 'ConfigError',
        message: expect.stringContaining(id),
      });
      // with the old key kept as a previous key, it starts; `keys rewrap` moves the data keys to the new one
      const second = newMasterKey();
      const both = loadConfig({ ...env, ENCRYPTION_KEY: second, ENCRYPTION_PREVIOUS_KEYS: first });
      const reopened = await openStorage(both, 'test', { master: await loadMasterKeys(both, 'required') });
      expect(await reopened.keys!.cipherFor('acme')).toBeDefined();
      await reopened.close();
      const cli = spawnSync(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'keys', 'rewrap'], {
        cwd: path.resolve(import.meta.dirname, '../..'),
        env: { ...process.env, ...env, ENCRYPTION_KEY: second, ENCRYPTION_PREVIOUS_KEYS: first, LOG_LEVEL: 'silent' },
        encoding: 'utf8',
      });
      expect(cli.stdout).toContain('re-wrapped 1 data key under the current master key');
      expect(cli.status).toBe(0);
      const newOnly = loadConfig({ ...env, ENCRYPTION_KEY: second });
      const afterRewrap = await openStorage(newOnly, 'test', { master: await loadMasterKeys(newOnly, 'required') });
      expect(await afterRewrap.keys!.cipherFor('acme')).toBeDefined();
      await afterRewrap.close();
    } finally {
      await dropSchema(events);
      await dropSchema(readModels);
    }
  });

  it('an erasure made by another process takes effect here once the cached key expires', async () => {
    const master = masterKeysFrom(newMasterKey());
    const here = await createSqlKeyService({ db, schema, master, cacheMs: 200 });
    const elsewhere = await createSqlKeyService({ db, schema, master });
    const t = uniqueTenant();
    expect(await here.cipherFor(t, { create: true })).toBeDefined();
    await elsewhere.erase(t);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await here.cipherFor(t)).toBeUndefined();
  });

  it("pseudonyms: the same in every process holding the tenant's key, another for another tenant or kind, none once the key is erased", async () => {
    const master = masterKeysFrom(newMasterKey());
    const here = await createSqlKeyService({ db, schema, master });
    const elsewhere = await createSqlKeyService({ db, schema, master });
    const [a, b] = [uniqueTenant(), uniqueTenant()];
    const ofA = (await here.cipherFor(a, { create: true }))!;
    const chat = ofA.pseudonym('chat', 'telegram:7319046852');
    expect(chat).toMatch(/^[0-9a-f]{32}$/);
    expect(chat).not.toContain('7319046852');
    // another process (the bots role beside the api role) finds the same conversation
    expect((await elsewhere.cipherFor(a))!.pseudonym('chat', 'telegram:7319046852')).toBe(chat);
    expect(ofA.pseudonym('chat', 'telegram:7319046853')).not.toBe(chat);
    expect(ofA.pseudonym('user', 'telegram:7319046852')).not.toBe(chat);
    expect((await here.cipherFor(b, { create: true }))!.pseudonym('chat', 'telegram:7319046852')).not.toBe(chat);
    // with the key gone nobody can compute it again: the pseudonym no longer names anyone
    await here.erase(a);
    expect(await here.cipherFor(a, { create: true })).toBeUndefined();
  });
});
