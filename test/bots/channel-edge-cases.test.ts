import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverTelegramUpdate } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import { telegramUpdates } from '../../adapters/channels/doubles/telegram-updates.ts';
import { deliverWhatsApp, newWamid, whatsappPayloads } from '../doubles/whatsapp-payloads.ts';
import { ok } from '../http/support/client.ts';
import { chatConversation, connectWhatsApp, history, startBotsHarness, tenantClient } from './support.ts';
import type { BotsHarness } from './support.ts';

describe('bot channels: a retried connect, a closed conversation, a replaced bot, an odd status', () => {
  let h: BotsHarness;
  beforeAll(async () => {
    h = await startBotsHarness({ bots: false });
  }, 120_000);
  afterAll(() => h?.close());

  it('a retried connect (same Idempotency-Key) keeps the bot receiving updates', async () => {
    const { me } = await tenantClient(h);
    const bot = h.telegram.addBot();
    const key = { 'idempotency-key': 'connect-once' };
    ok(await me.post('/channels/telegram', { token: bot.token }, key), 200);
    expect((await h.telegram.userSays(bot.token, { chatId: 77, text: 'first' })).status).toBe(200);
    // the client's first answer was lost (timeout) and it retries, exactly what Idempotency-Key is for
    const replay = await me.post('/channels/telegram', { token: bot.token }, key);
    expect(replay.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_100)); // the webhook router's tenant cache
    expect((await h.telegram.userSays(bot.token, { chatId: 77, text: 'second' })).status).toBe(200);
  }, 60_000);

  it('two connects of the same bot that overlap (a double submit) leave Telegram and the record with the same secret', async () => {
    const { me } = await tenantClient(h);
    const bot = h.telegram.addBot();
    // the first setWebhook takes effect at once but its answer comes late: the second is recorded first, the first last
    h.telegram.failNext({ type: 'slow', ms: 400 }, { method: 'setWebhook', token: bot.token });
    const [first, second] = await Promise.all([
      me.post('/channels/telegram', { token: bot.token }),
      new Promise((r) => setTimeout(r, 100)).then(() => me.post('/channels/telegram', { token: bot.token })),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    await new Promise((r) => setTimeout(r, 1_100)); // the webhook router's tenant cache
    expect((await h.telegram.userSays(bot.token, { chatId: 78, text: 'hello?' })).status).toBe(200);
  }, 60_000);

  it('a user writing to a closed bot conversation is answered 2xx (the platform must not retry a permanent refusal)', async () => {
    const { me } = await tenantClient(h);
    const bot = h.telegram.addBot();
    ok(await me.post('/channels/telegram', { token: bot.token }), 200);
    expect((await h.telegram.userSays(bot.token, { chatId: 78, text: 'hello' })).status).toBe(200);
    ok(await me.post(`/conversations/${await chatConversation(me, 'telegram', 78)}/close`, { reason: 'done' }), 200);
    const again = await h.telegram.userSays(bot.token, { chatId: 78, text: 'are you there?' });
    expect([again.status, again.body]).toEqual([200, expect.anything()]);
  }, 60_000);

  it('one WhatsApp status with an odd recipient_id does not refuse the whole signed batch', async () => {
    const { me } = await tenantClient(h);
    const appSecret = 'app-secret-of-the-review-test';
    const { number, webhookUrl } = await connectWhatsApp(h, me, appSecret);
    const user = '15550001111';
    const batch = whatsappPayloads.batch(
      whatsappPayloads.status(number, { id: 'wamid.unknown-1', status: 'delivered', recipientId: '+1 555 000 2222' }),
      whatsappPayloads.text(number, { from: user, text: 'hi' }),
    );
    const answer = await deliverWhatsApp(webhookUrl, batch, appSecret);
    expect([answer.status, answer.body]).toEqual([200, expect.anything()]);
    const posted = JSON.parse(answer.body) as { posted: number; statuses: number };
    expect(posted).toMatchObject({ posted: 1, statuses: 0 });
  }, 60_000);

  it('one signed WhatsApp batch: a message to a closed conversation is refused alone, the next user\'s message and a status are still recorded', async () => {
    const { me } = await tenantClient(h);
    const appSecret = 'app-secret-of-the-batch-test';
    const { number, webhookUrl } = await connectWhatsApp(h, me, appSecret);
    const closedUser = '15550003333';
    const otherUser = '15550004444';
    expect((await deliverWhatsApp(webhookUrl, whatsappPayloads.text(number, { from: closedUser, text: 'hello' }), appSecret)).status).toBe(200);
    const closedConversation = await chatConversation(me, 'whatsapp', closedUser);
    ok(await me.post(`/conversations/${closedConversation}/close`, { reason: 'done' }), 200);
    const refusedWamid = newWamid(closedUser);
    const batch = whatsappPayloads.batch(
      whatsappPayloads.text(number, { from: closedUser, id: refusedWamid, text: 'are you there?' }),
      whatsappPayloads.text(number, { from: otherUser, text: 'hi, a question' }),
      whatsappPayloads.status(number, { id: newWamid(otherUser), status: 'delivered', recipientId: otherUser }),
    );
    const answer = await deliverWhatsApp(webhookUrl, batch, appSecret);
    expect(answer.status).toBe(200);
    // read as of everything the webhook appended: the other user's message is there, the closed conversation got nothing
    const head = String(await h.stack.storage.store.headPosition());
    const rows = await history(me, await chatConversation(me, 'whatsapp', otherUser), head);
    expect(rows.map((r) => [r.role, r.text])).toEqual([['user', 'hi, a question']]);
    const closed = await history(me, closedConversation, head);
    expect(closed.map((r) => r.text)).toEqual(['hello']);
    expect(JSON.parse(answer.body)).toEqual({ ok: true, posted: 1, statuses: 1, refused: [{ id: refusedWamid, code: 'conversation_closed' }] });
  }, 60_000);

  it('after the bot is replaced (or update_id restarts after a week of silence), a new message is neither dropped nor placed before older ones', async () => {
    const { me } = await tenantClient(h);
    const a = h.telegram.addBot();
    ok(await me.post('/channels/telegram', { token: a.token }), 200);
    const hookA = h.telegram.webhookOf(a.token)!;
    const fromA = telegramUpdates({ firstUpdateId: 5_000 });
    for (const text of ['old one', 'old two']) expect((await deliverTelegramUpdate(hookA.url, fromA.text({ chatId: 79, text }), hookA.secretToken)).status).toBe(200);
    const b = h.telegram.addBot();
    ok(await me.post('/channels/telegram', { token: b.token }), 200);
    await new Promise((r) => setTimeout(r, 1_100));
    const hookB = h.telegram.webhookOf(b.token)!;
    // the same user (private chat id = user id) writes to the new bot a minute later; its update_id counter is its own
    const fromB = telegramUpdates({ firstUpdateId: 4_000 });
    expect((await deliverTelegramUpdate(hookB.url, fromB.text({ chatId: 79, text: 'new one', date: 1_767_225_660 }), hookB.secretToken)).status).toBe(200);
    const colliding = telegramUpdates({ firstUpdateId: 5_000 });
    expect((await deliverTelegramUpdate(hookB.url, colliding.text({ chatId: 79, text: 'new two', date: 1_767_225_661 }), hookB.secretToken)).status).toBe(200);
    // read as of everything the webhooks appended, until the four are there (two full runs under load saw
    // 'new two' missing from a read the read models said was current; a message really dropped still fails here)
    const conversation = await chatConversation(me, 'telegram', 79);
    const head = String(await h.stack.storage.store.headPosition());
    await expect
      .poll(async () => (await history(me, conversation, head)).map((r) => r.text), { timeout: 20_000, interval: 500 })
      .toEqual(['old one', 'old two', 'new one', 'new two']);
  }, 60_000);
});
