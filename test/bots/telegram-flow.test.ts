import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverTelegramUpdate } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import { telegramUpdates, telegramUser } from '../../adapters/channels/doubles/telegram-updates.ts';
import { ok } from '../http/support/client.ts';
import { answersKept, chatConversation, dumpSchemas, history, startBotsHarness, tenantClient, waitFor } from './support.ts';
import type { BotsHarness } from './support.ts';

/** The user's private chat (its id is the user's id): long enough that no other value in a dump holds it by chance. */
const CHAT = 7_319_046_852;

describe('a Telegram bot user talks to the tenant’s agent (real PostgreSQL, real HTTP, Telegram double)', () => {
  let h: BotsHarness;
  const { seen: responses, keep } = answersKept();
  beforeAll(async () => {
    h = await startBotsHarness();
  }, 120_000);
  afterAll(() => h?.close());

  it('connect, message in, answer out, the whole conversation in the history; the token is nowhere in plaintext', async () => {
    const { tenantId, me } = await tenantClient(h);
    const head = await h.stack.storage.store.headPosition();

    // a token Telegram refuses: a clear reason, nothing stored
    const refused = keep(await me.post('/channels/telegram', { token: '123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX' }));
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'telegram_token_rejected' });
    expect(await h.stack.storage.store.headPosition()).toBe(head);

    const bot = h.telegram.addBot();
    const connected = ok(keep(await me.post<{ botUsername: string; webhookUrl: string }>('/channels/telegram', { token: bot.token })), 200);
    expect(connected.botUsername).toBe(bot.username);
    expect(connected.webhookUrl).toBe(`${h.stack.baseUrl}/webhooks/telegram/${tenantId}`);
    const webhook = h.telegram.webhookOf(bot.token)!;
    expect(webhook.url).toBe(connected.webhookUrl);
    expect(webhook.secretToken).toMatch(/^[A-Za-z0-9_-]{40,}$/);

    // forged, missing secret and unknown slug: one answer, nothing appended
    const before = await h.stack.storage.store.headPosition();
    const update = telegramUpdates({ firstUpdateId: 900 }).text({ chatId: 4242, text: 'forged' });
    const forged = await deliverTelegramUpdate(webhook.url, update, 'not-the-secret');
    const missing = await deliverTelegramUpdate(webhook.url, update, null);
    const unknown = await deliverTelegramUpdate(`${h.stack.baseUrl}/webhooks/telegram/no-such-tenant`, update, webhook.secretToken);
    for (const answer of [forged, missing, unknown]) expect([answer.status, answer.body]).toEqual([403, forged.body]);
    expect(await h.stack.storage.store.headPosition()).toBe(before);

    // the user writes; the conversation of the chat starts; a sticker is answered politely
    expect((await h.telegram.userSays(bot.token, { chatId: CHAT, text: 'Hello, when do you open?' })).status).toBe(200);
    const sticker = await h.telegram.deliver(bot.token, telegramUpdates({ firstUpdateId: 5000 }).sticker({ chatId: CHAT, from: telegramUser(CHAT) }));
    expect(sticker.status).toBe(200);
    // the tenant finds the chat's conversation by its chat id; the conversation's id is a pseudonym of it
    const conversationId = await chatConversation(me, 'telegram', CHAT);
    expect(conversationId).toMatch(/^telegram-[0-9a-f]{32}$/);
    const conversation = ok(await me.get<{ channel: string; externalChatId: string }>(`/conversations/${conversationId}`), 200);
    expect(conversation).toMatchObject({ channel: 'telegram', externalChatId: String(CHAT) });

    // the agent answers over the API; the bot delivers it to the chat
    const answer = 'We open at nine. ' + 'Plenty of detail. '.repeat(300); // over 4096: two parts
    ok(keep(await me.post(`/conversations/${conversationId}/messages`, { text: answer, role: 'agent' })), 201);
    const sent = await waitFor('the answer at the double', () => {
      const s = h.telegram.sent(bot.token);
      return s.length === 2 ? s : undefined;
    });
    expect(sent.map((m) => String(m.chatId))).toEqual([String(CHAT), String(CHAT)]);
    expect(sent.map((m) => m.text).join(' ')).toBe(answer.trim());
    const messages = await waitFor('the delivery in the history', async () => {
      const all = await history(me, conversationId);
      return all.length === 2 && all[1]!.delivery === 'delivered' ? all : undefined;
    });
    expect(messages.map((m) => [m.role, m.text])).toEqual([
      ['user', 'Hello, when do you open?'],
      ['agent', answer],
    ]);

    // reconnecting another bot replaces the first cleanly: its webhook is removed
    const second = h.telegram.addBot();
    const replaced = ok(keep(await me.post<{ previousWebhookRemoved: boolean }>('/channels/telegram', { token: second.token })), 200);
    expect(replaced.previousWebhookRemoved).toBe(true);
    expect(h.telegram.webhookOf(bot.token)).toBeNull();
    expect(h.telegram.webhookOf(second.token)?.url).toBe(connected.webhookUrl);
    expect((await h.telegram.userSays(bot.token, { chatId: CHAT, text: 'old bot' }).catch(() => ({ status: 0 }))).status).not.toBe(200);

    // nowhere in plaintext: database, logs, responses; the user's chat id (here also its user id) in neither the database nor the logs
    const dump = await dumpSchemas([h.stack.schemas.events, h.stack.schemas.readModels]);
    expect(dump).toContain('TelegramBotConnected');
    for (const token of [bot.token, second.token, webhook.secretToken!]) {
      expect(dump.includes(token)).toBe(false);
      expect(h.logs.join('').includes(token)).toBe(false);
      expect(responses.join('').includes(token)).toBe(false);
    }
    expect(dump.includes(String(CHAT))).toBe(false);
    expect(h.logs.join('').includes(String(CHAT))).toBe(false);
  }, 120_000);
});
