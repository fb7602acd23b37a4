import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStore } from '../../adapters/audit/check.ts';
import { rebuildProjections } from '../../adapters/projections/rebuild.ts';
import { ERASED_MARKER } from '../../domain/ports/keys.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { readFresh } from '../runtime/support/journey.ts';
import { plaintextHits } from '../support/plaintext.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

describe("deleting a tenant's data key (the base of crypto-shredding)", () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness();
  });
  afterAll(async () => h?.close());

  /** A tenant with a titled conversation, a message and a knight; what its API shows. */
  const populated = async (label: string) => {
    const t = await newTenant(client(h.baseUrl, h.operatorKey), 'pro');
    const me = client(h.baseUrl, t.key);
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: `${label} title` }), 201);
    ok(await me.post(`/conversations/${conversationId}/messages`, { text: `${label} message` }), 201);
    const knight = ok(await me.post<{ knightId: string; position: string }>('/knights', { task: `${label} task` }), 202);
    const shows = async (position = knight.position) => ({
      conversation: (await readFresh(me, `/conversations/${conversationId}?minPosition=${position}`)) as { title: string },
      messages: ((await readFresh(me, `/conversations/${conversationId}/messages`)) as { items: { text: string }[] }).items.map((m) => m.text),
      task: ((await readFresh(me, `/knights/${knight.knightId}`)) as { task: string }).task,
      name: ((await readFresh(me, '/tenants/me')) as { name: string }).name,
    });
    return { ...t, shows };
  };

  it('its events still read, with erased markers; other tenants are untouched; a rebuild shows the same', async () => {
    const gone = await populated('gone');
    const kept = await populated('kept');
    expect(await gone.shows()).toEqual({ conversation: expect.objectContaining({ title: 'gone title' }), messages: ['gone message'], task: 'gone task', name: 'Acme' });

    await h.storage.keys!.erase(gone.tenantId);

    const erased = { conversation: expect.objectContaining({ title: ERASED_MARKER }), messages: [ERASED_MARKER], task: ERASED_MARKER, name: ERASED_MARKER };
    const intact = { conversation: expect.objectContaining({ title: 'kept title' }), messages: ['kept message'], task: 'kept task', name: 'Acme' };
    expect(await gone.shows()).toEqual(erased);
    expect(await kept.shows()).toEqual(intact);

    const events = await h.storage.codec.decode(await h.storage.store.readAll({ filter: { tenantId: gone.tenantId }, maxCount: 100 }), 'view');
    expect(events.length).toBeGreaterThan(4);
    expect(events.flatMap((e) => (e.type === 'MessagePosted' ? [e.data.text] : e.type === 'TenantCreated' ? [e.data.name] : []))).toEqual([ERASED_MARKER, ERASED_MARKER]);

    await rebuildProjections({ db: h.storage.db, store: h.storage.store, codec: h.storage.codec, schema: h.schemas.readModels, projections: PROJECTIONS });
    expect(await gone.shows()).toEqual(erased);
    expect(await kept.shows()).toEqual(intact);
  });

  it('erasing a tenant (DELETE /tenants/:id): TenantErased recorded, data key deleted, no plaintext left in any table, chains still verify, slug retired, others untouched', async () => {
    const tag = randomUUID().slice(0, 8);
    const gone = await populated(`gone-${tag}`);
    const kept = await populated(`kept-${tag}`);
    const operator = client(h.baseUrl, h.operatorKey);
    const digestBefore = (await verifyStore(h.storage.store, { tenantId: gone.tenantId })).digest!;

    const erased = ok(await operator.delete<{ position: string }>(`/tenants/${gone.tenantId}`), 200);
    ok(await operator.delete(`/tenants/${gone.tenantId}`), 200); // a repeat changes nothing
    await readFresh(client(h.baseUrl, kept.key), `/tenants/me?minPosition=${erased.position}`);

    const log = await h.storage.store.readAll({ filter: { tenantId: gone.tenantId }, maxCount: 1000 });
    expect(log.filter((e) => e.type.startsWith('TenantErased'))).toHaveLength(1);
    expect(await h.storage.keys!.cipherFor(gone.tenantId, { create: true })).toBeUndefined();
    // the events stay and every chain still holds (hashes cover the ciphertext), the digest taken before included
    expect(await verifyStore(h.storage.store, { digest: digestBefore })).toMatchObject({ break: undefined, events: log.length });
    expect((await verifyStore(h.storage.store)).break).toBeUndefined();
    // the slug stays retired
    expect((await operator.post('/tenants', { slug: gone.tenantId, name: 'Again', tier: 'free' })).status).toBe(409);

    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      const personal = { title: `gone-${tag} title`, message: `gone-${tag} message`, task: `gone-${tag} task` };
      const { hits, tables } = await plaintextHits((sql) => db.query(sql), personal, [h.schemas.events, h.schemas.readModels]);
      expect(tables).toBeGreaterThan(10);
      expect(hits).toEqual([]);
      const key = await db.query(`SELECT wrapped IS NULL AS deleted, erased_at IS NOT NULL AS tombstone FROM ${h.schemas.events}.data_keys WHERE tenant_id = $1`, [gone.tenantId]);
      expect(key.rows).toEqual([{ deleted: true, tombstone: true }]);
    } finally {
      await db.end();
    }

    const intact = { conversation: expect.objectContaining({ title: `kept-${tag} title` }), messages: [`kept-${tag} message`], task: `kept-${tag} task`, name: 'Acme' };
    expect(await kept.shows()).toEqual(intact);
    await rebuildProjections({ db: h.storage.db, store: h.storage.store, codec: h.storage.codec, schema: h.schemas.readModels, projections: PROJECTIONS });
    expect(await kept.shows()).toEqual(intact);
    const views = await h.storage.codec.decode(log, 'view');
    expect(views.flatMap((e) => (e.type === 'MessagePosted' ? [e.data.text] : []))).toEqual([ERASED_MARKER]);
  });
});
