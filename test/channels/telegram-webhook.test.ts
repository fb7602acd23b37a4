import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, hashSecret } from '../../adapters/channels/secrets.ts';
import { parseTelegramUpdate, telegramSecretMatches } from '../../adapters/telegram/webhook.ts';
import { telegramUpdates, telegramUser } from '../../adapters/channels/doubles/telegram-updates.ts';

describe('Telegram webhook: secret header', () => {
  const secret = generateWebhookSecret();
  const stored = hashSecret(secret);

  it('accepts exactly the secret set with setWebhook', () => {
    expect(telegramSecretMatches(secret, stored)).toBe(true);
  });

  it('refuses a forged, truncated, extended, missing, empty or repeated header', () => {
    for (const header of [generateWebhookSecret(), secret.slice(0, -1), `${secret}x`, undefined, '', [secret, secret], secret.toUpperCase()])
      expect(telegramSecretMatches(header, stored)).toBe(false);
  });

  it('stores nothing from which the secret can be read back', () => {
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(stored).not.toContain(secret);
  });
});

describe('Telegram webhook: parsing an update', () => {
  const ada = telegramUser(4242, 'Ada', 'ada_l');
  const sender = { id: '4242', isBot: false, firstName: 'Ada', username: 'ada_l', languageCode: 'en' };

  it('a text message becomes its update id, chat, sender and text', () => {
    const update = telegramUpdates({ firstUpdateId: 7 }).text({ chatId: 4242, from: ada, text: 'Hello agent' });
    expect(parseTelegramUpdate(update)).toEqual({
      type: 'text',
      updateId: 7,
      chatId: '4242',
      chatType: 'private',
      messageId: update.message.message_id,
      date: update.message.date,
      from: sender,
      text: 'Hello agent',
    });
  });

  it.each([
    ['photo', (b: ReturnType<typeof telegramUpdates>) => b.photo({ chatId: 4242, from: ada, caption: 'look' }), 'photo', null],
    ['sticker', (b: ReturnType<typeof telegramUpdates>) => b.sticker({ chatId: 4242, from: ada }), 'sticker', null],
    ['edited message', (b: ReturnType<typeof telegramUpdates>) => b.editedMessage({ chatId: 4242, from: ada, messageId: 3, text: 'fixed' }), 'edited_message', null],
    ['callback query', (b: ReturnType<typeof telegramUpdates>) => b.callbackQuery({ chatId: 4242, from: ada, data: 'yes' }), 'callback_query', 'query id'],
    ['user blocked the bot', (b: ReturnType<typeof telegramUpdates>) => b.myChatMember({ chatId: 4242, from: ada, status: 'kicked' }), 'my_chat_member', 'kicked'],
  ] as const)('a %s is a kind without text, tied to its chat', (_name, build, kind, detail) => {
    const update = build(telegramUpdates({ firstUpdateId: 50 }));
    const parsed = parseTelegramUpdate(update);
    expect(parsed).toMatchObject({ type: 'without_text', updateId: 50, chatId: '4242', from: sender, kind });
    if (detail === 'query id') expect(parsed).toMatchObject({ detail: (update as { callback_query: { id: string } }).callback_query.id });
    else expect(parsed).toMatchObject({ detail });
  });

  it('text that is not well-formed Unicode or holds U+0000 is made storable instead of refused', () => {
    const update = telegramUpdates().text({ chatId: 1, text: 'a\ud800b\u0000c' });
    expect(parseTelegramUpdate(update)).toMatchObject({ type: 'text', text: 'a\ufffdbc' });
  });

  it('a chat id beyond 32 bits (a supergroup) survives as its exact digits', () => {
    const update = { ...telegramUpdates().text({ chatId: 1, text: 'hi' }) };
    update.message = { ...update.message, chat: { id: -1001234567890, type: 'supergroup', title: 'Team' } } as never;
    expect(parseTelegramUpdate(update)).toMatchObject({ type: 'text', chatId: '-1001234567890', chatType: 'supergroup' });
  });

  it('odd bodies are ignored, keeping the update id when there is one', () => {
    expect(parseTelegramUpdate(null)).toEqual({ type: 'ignored', updateId: null, reason: 'not_an_update' });
    expect(parseTelegramUpdate('update')).toMatchObject({ type: 'ignored', updateId: null });
    expect(parseTelegramUpdate([{ update_id: 1 }])).toMatchObject({ type: 'ignored', updateId: null });
    expect(parseTelegramUpdate({ update_id: '5' })).toMatchObject({ type: 'ignored', updateId: null });
    expect(parseTelegramUpdate({ update_id: 5, message: { text: 'no chat' } })).toEqual({ type: 'ignored', updateId: 5, reason: 'not_an_update' });
    expect(parseTelegramUpdate({ update_id: 6, inline_query: { id: 'q', from: telegramUser(1), query: 'x', offset: '' } })).toEqual({
      type: 'ignored',
      updateId: 6,
      reason: 'unhandled_update_kind',
    });
  });

  it('property: any JSON body parses to a result, never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ update_id: fc.integer(), message: fc.jsonValue(), callback_query: fc.jsonValue() })), (body) => {
        expect(['text', 'without_text', 'ignored']).toContain(parseTelegramUpdate(body).type);
      }),
      { numRuns: 1000 },
    );
  });
});
