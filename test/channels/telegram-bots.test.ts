import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALLOWED_UPDATES, createTelegramBots } from '../../adapters/telegram/bots.ts';
import type { TelegramBots } from '../../adapters/telegram/bots.ts';
import { startTelegramDouble } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import type { FakeBot, TelegramDouble } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import { startLoopback } from '../../adapters/channels/doubles/loopback.ts';
import { fakeClock } from '../support/fake-clock.ts';
import { expectNoSecretIn, failureOf } from './secrets-in-errors.ts';

const paragraphs = (count: number, length: number) =>
  Array.from({ length: count }, (_, i) => `P${i} ` + 'word '.repeat(Math.floor(length / 5)).trim() + '.').join('\n\n');

describe('Telegram bots through telegraf against the Bot API double', () => {
  let double: TelegramDouble;
  let bot: FakeBot;
  let time: ReturnType<typeof fakeClock>;
  let bots: TelegramBots;
  const creds = () => ({ tenantId: 'acme', token: bot.token });

  beforeAll(async () => {
    double = await startTelegramDouble();
  });
  afterAll(() => double.close());
  beforeEach(() => {
    bot = double.addBot();
    time = fakeClock();
    bots = createTelegramBots({ apiRoot: double.apiRoot, timeoutMs: 2_000, clock: time.clock });
  });

  describe('connecting a bot', () => {
    it('getMe with a valid token names the bot', async () => {
      expect(await bots.getMe(creds())).toEqual({ botId: bot.id, botUsername: bot.username, firstName: bot.firstName });
    });

    it('getMe with a token Telegram does not know fails for good with a clear reason, without the token', async () => {
      const token = `${bot.id}:${'Z'.repeat(35)}`;
      const error = await failureOf(bots.getMe({ tenantId: 'acme', token }));
      expect(error).toMatchObject({ code: 'telegram_token_rejected', kind: 'validation', details: { retryable: false, platformCode: 401 } });
      expect(error.message).toMatch(/rejected the bot token/);
      expectNoSecretIn(error, [token, token.split(':')[1]!]);
    });

    it('a token that is not shaped like one never leaves the process', async () => {
      const before = double.calls.length;
      const error = await failureOf(bots.getMe({ tenantId: 'acme', token: '../../getMe?x=' }));
      expect(error.code).toBe('telegram_token_malformed');
      expect(double.calls.length).toBe(before);
    });

    it('setWebhook registers the URL with a fresh secret and the update kinds the parser knows', async () => {
      const { secretToken } = await bots.setWebhook(creds(), { url: 'https://bots.example.com/webhooks/telegram/acme' });
      expect(secretToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(double.webhookOf(bot.token)).toEqual({
        url: 'https://bots.example.com/webhooks/telegram/acme',
        secretToken,
        allowedUpdates: [...ALLOWED_UPDATES],
        maxConnections: 40,
      });
      const again = await bots.setWebhook(creds(), { url: 'https://bots.example.com/webhooks/telegram/acme' });
      expect(again.secretToken).not.toBe(secretToken);
      expect(await bots.getWebhookInfo(creds())).toMatchObject({ url: 'https://bots.example.com/webhooks/telegram/acme', allowedUpdates: [...ALLOWED_UPDATES] });
    });

    it('a refused setWebhook fails without showing the token or the generated secret', async () => {
      double.failNext({ type: 'error', errorCode: 400, description: 'Bad Request: bad webhook: HTTPS url must be provided for webhook' }, { method: 'setWebhook' });
      const error = await failureOf(bots.setWebhook(creds(), { url: 'https://bots.example.com/hook', secretToken: 'the_secret_token_of_acme' }));
      expect(error).toMatchObject({ code: 'telegram_request_rejected', details: { retryable: false } });
      expect(error.message).toContain('HTTPS url must be provided');
      expectNoSecretIn(error, [bot.token, 'the_secret_token_of_acme']);
    });

    it('deleteWebhook removes the webhook', async () => {
      await bots.setWebhook(creds(), { url: 'https://bots.example.com/hook' });
      await bots.deleteWebhook(creds(), { dropPendingUpdates: true });
      expect(double.webhookOf(bot.token)).toBeNull();
      expect((await bots.getWebhookInfo(creds())).url).toBe('');
    });
  });

  describe('sending', () => {
    it('sends a reply as plain text to the chat, answering the user message', async () => {
      const sent = await bots.sendText(creds(), '4242', 'Hello *there* _friend_', { replyToMessageId: 17 });
      expect(double.sent(bot.token)).toEqual([{ token: bot.token, chatId: '4242', messageId: 1, text: 'Hello *there* _friend_', replyToMessageId: 17 }]);
      expect(sent.externalMessageIds).toEqual(['1']);
      expect(double.callsOf('sendMessage', bot.token)[0]!.payload).not.toHaveProperty('parse_mode');
    });

    it('splits a text over 4096 characters into parts sent in order, a second apart, only the first answering', async () => {
      const text = paragraphs(3, 3000);
      const sent = await bots.sendText(creds(), '4242', text, { replyToMessageId: 5 });
      const got = double.sent(bot.token);
      expect(got).toHaveLength(3);
      expect(got.map((m) => m.text).join('\n\n')).toBe(text);
      expect(got.map((m) => m.replyToMessageId)).toEqual([5, null, null]);
      expect(sent.externalMessageIds).toEqual(['1', '2', '3']);
      expect(time.sleeps).toEqual([1000, 1000]);
    });

    it('refuses a blank text without calling Telegram', async () => {
      const error = await failureOf(bots.sendText(creds(), '4242', ' \n '));
      expect(error).toMatchObject({ code: 'message_empty', details: { retryable: false } });
      expect(double.callsOf('sendMessage', bot.token)).toHaveLength(0);
    });

    it('paces messages per chat, not across chats', async () => {
      await bots.sendText(creds(), '1', 'a');
      await bots.sendText(creds(), '2', 'b');
      await bots.sendText(creds(), '1', 'c');
      // chat 2 waits only its turn on the bot-wide limit (30/s → 34 ms); chat 1's second message waits out its second.
      expect(time.sleeps).toEqual([34, 966]);
    });

    it('after a 429, waits retry_after and sends the message exactly once', async () => {
      double.failNext({ type: 'rate_limit', retryAfter: 3 }, { method: 'sendMessage' });
      await bots.sendText(creds(), '4242', 'hi');
      expect(time.sleeps).toEqual([3000]);
      expect(double.callsOf('sendMessage', bot.token).map((c) => c.status)).toEqual([429, 200]);
      expect(double.sent(bot.token)).toHaveLength(1);
    });

    it('a retry_after longer than it may wait is a retryable failure that says when', async () => {
      double.failNext({ type: 'rate_limit', retryAfter: 120 }, { method: 'sendMessage' });
      const error = await failureOf(bots.sendText(creds(), '4242', 'hi'));
      expect(error).toMatchObject({ code: 'telegram_rate_limited', details: { retryable: true, retryAfterMs: 120_000, deliveredParts: 0 } });
      expect(double.callsOf('sendMessage', bot.token)).toHaveLength(1);
    });

    it('gives up after three 429s in a row', async () => {
      double.failNext({ type: 'rate_limit', retryAfter: 1 }, { method: 'sendMessage', times: 3 });
      const error = await failureOf(bots.sendText(creds(), '4242', 'hi'));
      expect(error.code).toBe('telegram_rate_limited');
      expect(double.callsOf('sendMessage', bot.token)).toHaveLength(3);
      expect(double.sent(bot.token)).toHaveLength(0);
    });

    it('honours the Bot API flood limit of a real chat: the 429 it answers is retried after its retry_after', async () => {
      const strict = await startTelegramDouble({ chatIntervalMs: 60_000 });
      try {
        const b = strict.addBot();
        const eager = createTelegramBots({ apiRoot: strict.apiRoot, chatIntervalMs: 0, clock: time.clock, retry: { maxAttempts: 3, maxRetryWaitMs: 30_000 } });
        await eager.sendText({ tenantId: 't', token: b.token }, '9', 'first');
        const error = await failureOf(eager.sendText({ tenantId: 't', token: b.token }, '9', 'second'));
        expect(error).toMatchObject({ code: 'telegram_rate_limited', details: { retryable: true, retryAfterMs: 60_000 } });
        expect(strict.sent().map((m) => m.text)).toEqual(['first']);
      } finally {
        await strict.close();
      }
    });

    it('a 5xx is retryable and not retried inside the call', async () => {
      double.failNext({ type: 'server_error', status: 502 }, { method: 'sendMessage' });
      const error = await failureOf(bots.sendText(creds(), '4242', 'hi'));
      expect(error).toMatchObject({ code: 'telegram_unavailable', kind: 'unavailable', details: { retryable: true, platformCode: 502 } });
      expect(error.details.maybeDelivered).toBeUndefined();
      expect(double.callsOf('sendMessage', bot.token)).toHaveLength(1);
    });

    it('no answer within the timeout is retryable but flagged: the message may have gone', async () => {
      const impatient = createTelegramBots({ apiRoot: double.apiRoot, timeoutMs: 200, clock: time.clock });
      double.failNext({ type: 'timeout', afterProcessing: true }, { method: 'sendMessage' });
      const error = await failureOf(impatient.sendText(creds(), '4242', 'hi'));
      expect(error).toMatchObject({ code: 'telegram_timeout', details: { retryable: true, maybeDelivered: true } });
      expect(double.sent(bot.token).map((m) => m.text)).toEqual(['hi']); // it did go: resending would duplicate
      expectNoSecretIn(error, [bot.token]);
    });

    it('an unreachable Bot API is retryable, and nothing was sent', async () => {
      const gone = await startLoopback(() => undefined);
      await gone.close();
      const offline = createTelegramBots({ apiRoot: `${gone.url}/`, clock: time.clock });
      const error = await failureOf(offline.sendText(creds(), '4242', 'hi'));
      expect(error).toMatchObject({ code: 'telegram_unavailable', details: { retryable: true } });
      expect(error.details.maybeDelivered).toBeUndefined();
      expectNoSecretIn(error, [bot.token]);
    });

    it('a user who blocked the bot is a permanent failure', async () => {
      double.blockChat(bot.token, '4242');
      const error = await failureOf(bots.sendText(creds(), '4242', 'hi'));
      expect(error).toMatchObject({ code: 'telegram_chat_forbidden', details: { retryable: false, platformCode: 403 } });
    });

    it('a failure in the middle of a split text says which parts went, and resuming sends only the rest', async () => {
      const text = paragraphs(3, 3000);
      double.failNext({ type: 'server_error' }, { method: 'sendMessage', skip: 1 });
      const error = await failureOf(bots.sendText(creds(), '4242', text));
      expect(error.details).toMatchObject({ retryable: true, deliveredParts: 1, externalMessageIds: ['1'] });
      const rest = await bots.sendText(creds(), '4242', text, { fromPart: error.details.deliveredParts as number });
      expect(rest.externalMessageIds).toEqual(['2', '3']);
      expect(double.sent(bot.token).map((m) => m.text).join('\n\n')).toBe(text);
    });
  });

  describe('one client per tenant', () => {
    it('follows a tenant to its new token when the bot is replaced', async () => {
      await bots.sendText(creds(), '1', 'old bot');
      const replacement = double.addBot();
      await bots.sendText({ tenantId: 'acme', token: replacement.token }, '1', 'new bot');
      expect(double.sent(bot.token).map((m) => m.text)).toEqual(['old bot']);
      expect(double.sent(replacement.token).map((m) => m.text)).toEqual(['new bot']);
      expect(bots.cachedClients).toBe(1);
    });

    it('keeps at most maxClients clients and still serves a tenant whose client was dropped', async () => {
      const small = createTelegramBots({ apiRoot: double.apiRoot, maxClients: 2, clock: time.clock });
      const tenants = ['t1', 't2', 't3'].map((tenantId) => ({ tenantId, token: double.addBot().token }));
      for (const t of tenants) await small.getMe(t);
      expect(small.cachedClients).toBe(2);
      await small.sendText(tenants[0]!, '1', 'still works');
      expect(double.sent(tenants[0]!.token).map((m) => m.text)).toEqual(['still works']);
      small.forget('t1');
      expect(small.cachedClients).toBe(1);
    });
  });
});
