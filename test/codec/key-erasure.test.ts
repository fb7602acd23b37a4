import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildProjections } from '../../adapters/projections/rebuild.ts';
import { ERASED_MARKER } from '../../domain/ports/keys.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { readFresh } from '../runtime/support/journey.ts';

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
});
