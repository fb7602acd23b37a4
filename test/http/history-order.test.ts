import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { startConversation } from '../../commands/conversations/start-conversation.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from './support/client.ts';
import { newTenant } from './support/journey.ts';

type Item = { text: string; seq: number; place: string };
type History = { items: Item[]; next: string | null };

// A message's place in its chat, and the history read from its newest end (the dashboard's way in).
describe('a conversation history: places, and from the newest back', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness();
  });
  afterAll(() => h?.close());

  /** A Telegram chat whose third update (order 15) arrives after the one ordered 20: it is placed between. */
  const chatWithALateMessage = async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const caller = { tenantId: asTenantId(a.tenantId), actor: 'telegram:test', correlationId: randomUUID() };
    const { conversationId } = await startConversation(h.platform.ports, caller, { title: null }, { channel: 'telegram', externalChatId: '777' });
    let last = '';
    for (const [text, order] of [['one', 10], ['three', 20], ['two', 15], ['four', 30]] as const)
      last = (await postMessage(h.platform.ports, caller, conversationId, { text }, { channel: 'telegram', external: { messageId: `m${order}`, order } })).position ?? last;
    const me = client(h.baseUrl, a.key);
    const path = `/conversations/${conversationId}/messages`;
    ok(await me.get(`${path}?minPosition=${last}`), 200);
    return { me, path };
  };

  it("gives every message its place in the chat, the history's order, which a late message's revision is not", async () => {
    const { me, path } = await chatWithALateMessage();
    const items = ok(await me.get<History>(path), 200).items;
    expect(items.map((m) => [m.text, m.seq, m.place])).toEqual([['one', 1, '1'], ['two', 3, '1.5'], ['three', 2, '2'], ['four', 4, '4']]);
  });

  it('pages from the newest message back with order=newest, and below a place with before', async () => {
    const { me, path } = await chatWithALateMessage();
    const first = ok(await me.get<History>(`${path}?order=newest&limit=2`), 200);
    expect(first.items.map((m) => m.text)).toEqual(['four', 'three']);
    const second = ok(await me.get<History>(`${path}?order=newest&limit=2&cursor=${first.next}`), 200);
    expect([second.items.map((m) => m.text), second.next]).toEqual([['two', 'one'], null]);
    const below = ok(await me.get<History>(`${path}?order=newest&before=2`), 200);
    expect([below.items.map((m) => m.text), below.next]).toEqual([['two', 'one'], null]);
    // the oldest-first default is unchanged
    expect(ok(await me.get<History>(`${path}?limit=3`), 200).items.map((m) => m.text)).toEqual(['one', 'two', 'three']);
  });

  it('refuses a bad order or place, before without order=newest, and a cursor of the other order, with 400', async () => {
    const { me, path } = await chatWithALateMessage();
    const oldestFirst = ok(await me.get<History>(`${path}?limit=1`), 200).next!;
    const newestFirst = ok(await me.get<History>(`${path}?order=newest&limit=1`), 200).next!;
    const refused = async (query: string) => {
      const reply = await me.get(`${path}?${query}`);
      return [query, reply.status, reply.body.code];
    };
    for (const query of ['order=sideways', 'order=newest&before=abc', 'order=newest&before=-1', 'before=2', 'order=oldest&before=2'])
      expect(await refused(query)).toEqual([query, 400, 'invalid_query']);
    for (const query of [`order=newest&cursor=${oldestFirst}`, `cursor=${newestFirst}`])
      expect(await refused(query)).toEqual([query, 400, 'invalid_cursor']);
  });
});
