import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { expect, it } from 'vitest';
import { restoreBackup, writeBackup } from '../../adapters/audit/backup.ts';
import { fileWriter } from '../../adapters/audit/lines.ts';
import { createEventCodec } from '../../adapters/codec/index.ts';
import { createSqlKeyService } from '../../adapters/crypto/key-service.ts';
import { masterKeysFrom } from '../../adapters/crypto/master-keys.ts';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { ERASED_MARKER } from '../../domain/ports/keys.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { newMasterKey } from '../support/codec.ts';
import { meta, uniqueTenant } from '../support/ids.ts';

const at = '2026-11-30T12:00:00.000Z';

const open = async (masterKey: string) => {
  const instance = await PGlite.create();
  const db = pgliteDb(instance, { ownsInstance: false });
  const store = await createSqlEventStore(db, { schema: 'eventlog' });
  const keys = await createSqlKeyService({ db, schema: 'eventlog', master: masterKeysFrom(masterKey) });
  const codec = createEventCodec({ keys });
  return { instance, store, keys, codec, close: async () => (await store.close(), await instance.close()) };
};

it("a backup that still holds an erased tenant's live key (taken between TenantErased and the key's deletion) restores that key as a tombstone", async () => {
  const masterKey = newMasterKey();
  const source = await open(masterKey);
  const target = await open(masterKey);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'restore-erased-'));
  try {
    const gone = uniqueTenant('g');
    const kept = uniqueTenant('k');
    for (const t of [gone, kept]) {
      const stream = `tenant-${t}`;
      const created = { type: 'TenantCreated', data: { tenantId: asTenantId(t), name: `Name of ${t}`, email: null, tier: 'free', at } } as const;
      await source.store.append(stream, await source.codec.encode('tenant', stream, [{ id: randomUUID(), event: created }], meta(t)), 'no_stream');
    }
    const erasure = { type: 'TenantErased', data: { at } } as const;
    await source.store.append(`tenant-${gone}`, await source.codec.encode('tenant', `tenant-${gone}`, [{ id: randomUUID(), event: erasure }], meta(gone)), 0);
    // the key is not deleted yet: the backup carries it live

    const file = path.join(dir, 'backup.ndjson');
    const out = fileWriter(file);
    expect((await writeBackup({ store: source.store, keys: source.keys }, out.write)).break).toBeUndefined();
    await out.close();
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    expect(lines.map((l) => JSON.parse(l) as { kind?: string; tenantId?: string; wrapped?: string | null }).find((l) => l.kind === 'key' && l.tenantId === gone)).toMatchObject({ wrapped: expect.any(String) });
    // and a backup of a log whose erased tenant has no key line at all
    await writeFile(path.join(dir, 'no-key-line.ndjson'), `${lines.filter((l) => !(l.includes('"kind":"key"') && l.includes(`"tenantId":"${gone}"`))).join('\n')}\n`);

    expect(await restoreBackup({ store: target.store, keys: target.keys }, file)).toMatchObject({ events: 3, keys: 2 });
    const names = async () =>
      (await target.codec.decode(await target.store.readAll({ maxCount: 100 }), 'view')).flatMap((e) => (e.type === 'TenantCreated' ? [[e.metadata.tenantId, e.data.name]] : []));
    expect(await names()).toEqual([[gone, ERASED_MARKER], [kept, `Name of ${kept}`]]);
    const { rows } = await target.instance.query<{ tenant_id: string; wrapped: unknown; master_key_id: string | null; erased_at: unknown }>('SELECT tenant_id, wrapped, master_key_id, erased_at FROM eventlog.data_keys ORDER BY tenant_id');
    expect(rows.find((r) => r.tenant_id === gone)).toMatchObject({ wrapped: null, master_key_id: null, erased_at: expect.anything() });
    expect(rows.find((r) => r.tenant_id === kept)).toMatchObject({ wrapped: expect.anything(), erased_at: null });
    expect(await target.keys.cipherFor(gone, { create: true })).toBeUndefined();

    const third = await open(masterKey);
    try {
      await restoreBackup({ store: third.store, keys: third.keys }, path.join(dir, 'no-key-line.ndjson'));
      const { rows: tomb } = await third.instance.query<{ wrapped: unknown; erased_at: unknown }>('SELECT wrapped, erased_at FROM eventlog.data_keys WHERE tenant_id = $1', [gone]);
      expect(tomb).toEqual([{ wrapped: null, erased_at: expect.anything() }]);
    } finally {
      await third.close();
    }
  } finally {
    await source.close();
    await target.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
