import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverTelegramUpdate } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import { telegramUpdates } from '../../adapters/channels/doubles/telegram-updates.ts';
import { ok } from '../http/support/client.ts';
import { chatConversation, historyIfAny, startBotsHarness, tenantClient } from './support.ts';
import type { BotsHarness } from './support.ts';

/** Fisher–Yates with a seeded generator, so a failure can be replayed. */
const shuffled = <T>(items: readonly T[], seed: number): T[] => {
  const out = [...items];
  let s = seed;
  const random = () => ((s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

describe('Telegram updates redelivered and out of order', () => {
  let h: BotsHarness;
  beforeAll(async () => {
    h = await startBotsHarness({ bots: false });
  }, 120_000);
  afterAll(() => h?.close());

  it('100 updates over 4 chats, each delivered 3 times, all shuffled and 8 at a time: one message per update_id, each chat in update_id order', async () => {
    const { me } = await tenantClient(h);
    const bot = h.telegram.addBot();
    ok(await me.post('/channels/telegram', { token: bot.token }), 200);
    const { url, secretToken } = h.telegram.webhookOf(bot.token)!;
    const build = telegramUpdates({ firstUpdateId: 700_000 });
    const chats = [11, 22, 33, 44];
    const updates = Array.from({ length: 100 }, (_, i) => build.text({ chatId: chats[i % 4]!, text: `message ${String(i).padStart(3, '0')}` }));
    const seed = Date.now() % 100_000;
    const deliveries = shuffled([...updates, ...updates, ...updates], seed);
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < deliveries.length) {
          const update = deliveries[next++]!;
          statuses.push((await deliverTelegramUpdate(url, update, secretToken)).status);
        }
      }),
    );
    expect(statuses.filter((s) => s !== 200), `seed ${seed}`).toEqual([]);
    for (const chat of chats) {
      const expected = updates.filter((u) => u.message.chat.id === chat).map((u) => u.message.text);
      const rows = await waitForCount(me, await chatConversation(me, 'telegram', chat), expected.length);
      expect(rows.map((r) => r.text), `chat ${chat}, seed ${seed}`).toEqual(expected);
    }
  }, 240_000);
});

const waitForCount = async (me: Parameters<typeof historyIfAny>[0], conversationId: string, n: number) => {
  const until = Date.now() + 60_000;
  for (;;) {
    // the chat's conversation was started by a webhook: a 404 until it is projected, so wait on
    const rows = (await historyIfAny(me, conversationId)) ?? [];
    if (rows.length >= n || Date.now() > until) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
};
