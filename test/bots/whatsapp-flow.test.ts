import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverWhatsApp, newWamid, verifyWhatsAppWebhook, whatsappPayloads } from '../doubles/whatsapp-payloads.ts';
import { ok } from '../http/support/client.ts';
import { answersKept, chatConversation, connectWhatsApp, dumpSchemas, history, historyIfAny, startBotsHarness, tenantClient, waitFor } from './support.ts';
import type { BotsHarness } from './support.ts';

describe('a WhatsApp user talks to the tenant’s agent (real PostgreSQL, real HTTP, Graph double)', () => {
  let h: BotsHarness;
  const { seen: responses, keep } = answersKept();
  beforeAll(async () => {
    h = await startBotsHarness();
  }, 120_000);
  afterAll(() => h?.close());

  it('handshake, signed message in, answer out, statuses recorded; one changed byte is 401; the secrets are nowhere in plaintext', async () => {
    const { tenantId, me } = await tenantClient(h);
    const number = h.whatsapp.addNumber();
    const appSecret = randomBytes(16).toString('hex');
    const verifyToken = randomBytes(16).toString('base64url');

    const refused = keep(await me.post('/channels/whatsapp', { phoneNumberId: number.phoneNumberId, accessToken: 'EAAGnotvalid', appSecret, verifyToken }));
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'whatsapp_token_rejected' });

    const connected = ok(
      keep(await me.post<{ webhookUrl: string; displayPhoneNumber: string }>('/channels/whatsapp', { phoneNumberId: number.phoneNumberId, accessToken: number.accessToken, appSecret, verifyToken })),
      200,
    );
    expect(connected.displayPhoneNumber).toBe(number.displayPhoneNumber);
    const url = connected.webhookUrl;
    expect(url).toBe(`${h.stack.baseUrl}/webhooks/whatsapp/${tenantId}`);

    // Meta's handshake
    const shook = await verifyWhatsAppWebhook(url, { mode: 'subscribe', verifyToken, challenge: '1158201444' });
    expect([shook.status, shook.body]).toEqual([200, '1158201444']);
    expect((await verifyWhatsAppWebhook(url, { mode: 'subscribe', verifyToken: 'wrong', challenge: '1' })).status).toBe(403);

    // a signed message; the same bytes with one byte changed are refused
    const head = await h.stack.storage.store.headPosition();
    const user = '15551234567';
    const inboundWamid = newWamid(user);
    const message = whatsappPayloads.text(number, { from: user, id: inboundWamid, text: 'Do you deliver on Sundays?' });
    const tampered = await deliverWhatsApp(url, message, appSecret, { tamper: (raw) => raw.replace('Sundays', 'Sundayz') });
    expect(tampered.status).toBe(401);
    expect((await deliverWhatsApp(url, message, 'another-secret')).status).toBe(401);
    expect(await h.stack.storage.store.headPosition()).toBe(head);
    for (let i = 0; i < 3; i++) expect((await deliverWhatsApp(url, message, appSecret)).status).toBe(200); // Meta redelivers
    h.whatsapp.userWrote(number.phoneNumberId, user);
    const conversationId = await chatConversation(me, 'whatsapp', user);

    // the agent answers; Graph receives it once
    ok(keep(await me.post(`/conversations/${conversationId}/messages`, { text: 'Yes, from 10 to 4.', role: 'agent' })), 201);
    const [sent] = await waitFor('the answer at Graph', () => (h.whatsapp.sent(number.phoneNumberId).length === 1 ? h.whatsapp.sent(number.phoneNumberId) : undefined));
    expect([sent!.to, sent!.text]).toEqual([user, 'Yes, from 10 to 4.']);
    // the conversation was started by the webhook and the answer sent from the log: its history may still be a 404
    await waitFor('delivered', async () => (await historyIfAny(me, conversationId))?.[1]?.delivery === 'delivered' || undefined);

    // Meta reports the message read
    const read = whatsappPayloads.status(number, { id: sent!.wamid, status: 'read', recipientId: user });
    expect((await deliverWhatsApp(url, read, appSecret)).status).toBe(200);
    const messages = await waitFor('read', async () => {
      const all = await history(me, conversationId);
      return all[1]?.delivery === 'read' ? all : undefined;
    });
    expect(messages.map((m) => [m.role, m.text])).toEqual([
      ['user', 'Do you deliver on Sundays?'],
      ['agent', 'Yes, from 10 to 4.'],
    ]);

    // Meta sends statuses out of order: a `delivered` that arrives after `read` does not take the history back
    const late = whatsappPayloads.status(number, { id: sent!.wamid, status: 'delivered', recipientId: user });
    expect((await deliverWhatsApp(url, late, appSecret)).status).toBe(200);
    expect((await history(me, conversationId, String(await h.stack.storage.store.headPosition())))[1]?.delivery).toBe('read');

    // a media message is answered politely and posts nothing
    expect((await deliverWhatsApp(url, whatsappPayloads.sticker(number, { from: user }), appSecret)).status).toBe(200);
    // read as of everything the webhook may have appended: a post it made would be in the history
    expect((await history(me, conversationId, String(await h.stack.storage.store.headPosition()))).length).toBe(2);

    const dump = await dumpSchemas([h.stack.schemas.events, h.stack.schemas.readModels]);
    expect(dump).toContain('WhatsAppNumberConnected');
    // the user's number, and the wamids that carry it, are personal data: only pseudonyms of them are kept
    for (const secret of [number.accessToken, appSecret, verifyToken, user, inboundWamid, sent!.wamid]) {
      expect(dump.includes(secret)).toBe(false);
      expect(h.logs.join('').includes(secret)).toBe(false);
      expect(responses.join('').includes(secret)).toBe(false);
    }
  }, 120_000);

  it('outside the 24-hour window the answer is not sent and the failure is recorded with that reason', async () => {
    const { tenantId, me } = await tenantClient(h);
    const appSecret = 'app-secret-of-the-window-test';
    const { number, webhookUrl } = await connectWhatsApp(h, me, appSecret);
    const user = '15559876543';
    const dayAgo = Math.floor(Date.now() / 1000) - 25 * 3600;
    // the message was posted now, so our clock sees the window open: Graph's own refusal (131047) is what closes it here
    expect((await deliverWhatsApp(webhookUrl, whatsappPayloads.text(number, { from: user, text: 'hi', timestamp: dayAgo }), appSecret)).status).toBe(200);
    const conversationId = await chatConversation(me, 'whatsapp', user);
    const posted = ok(await me.post<{ position: string }>(`/conversations/${conversationId}/messages`, { text: 'late answer', role: 'agent' }), 201);
    // read our own write: the history below is read once the read models have the answer
    ok(await me.get(`/conversations/${conversationId}?minPosition=${posted.position}`), 200);
    const rows = await waitFor('the failure', async () => {
      const all = await history(me, conversationId);
      return all[1]?.delivery === 'failed' ? all : undefined;
    });
    expect(rows[1]!.text).toBe('late answer');
    expect(h.whatsapp.sent(number.phoneNumberId)).toEqual([]);
    const stream = `conversation-${tenantId}.${conversationId}`;
    const events = await h.stack.storage.codec.decodeStream('conversation', await h.stack.storage.store.readStream(stream), 'stored');
    const failed = events.find((e) => e.type === 'MessageDeliveryFailed');
    expect(failed?.data).toMatchObject({ reason: 'whatsapp_outside_window', retryable: false });
  }, 120_000);
});
