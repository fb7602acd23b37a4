import type { FakeBot, SentTelegramMessage } from './telegram-bot-api.ts';

/** What the double answers: Telegram's status and JSON body. */
export type BotApiAnswer = { readonly status: number; readonly body: unknown };
export type Webhook = { url: string; secretToken: string | null; allowedUpdates: string[]; maxConnections: number };
export type BotState = FakeBot & { webhook: Webhook | null; pendingUpdateCount: number; lastError: { date: number; message: string } | null };

const SECRET_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const MAX_TEXT = 4096;

export const fail = (status: number, description: string, parameters?: Record<string, unknown>): BotApiAnswer => ({
  status,
  body: { ok: false, error_code: status, description, ...(parameters ? { parameters } : {}) },
});
const ok = (result: unknown, description?: string): BotApiAnswer => ({ status: 200, body: { ok: true, result, ...(description ? { description } : {}) } });

/**
 * The Bot API methods the service uses, as Telegram answers them (validation, descriptions and
 * result shapes), over the double's bot states. `chatIntervalMs` turns on Telegram's per-chat flood
 * limit: a faster sendMessage to one chat is a 429 with retry_after.
 */
export const botApiMethods = (options: { chatIntervalMs?: number }) => {
  const sent: SentTelegramMessage[] = [];
  const blocked = new Set<string>();
  const lastSendAt = new Map<string, number>();
  const messageIds = new Map<string, number>();

  const sendMessage = (bot: BotState, p: Record<string, unknown>) => {
    const chatId = p.chat_id;
    if (typeof chatId !== 'number' && typeof chatId !== 'string') return fail(400, 'Bad Request: chat_id is empty');
    const text = typeof p.text === 'string' ? p.text : '';
    if (text.trim() === '') return fail(400, 'Bad Request: message text is empty');
    if (text.length > MAX_TEXT) return fail(400, 'Bad Request: message is too long');
    const chatKey = `${bot.token}\u0000${chatId}`;
    if (blocked.has(chatKey)) return fail(403, 'Forbidden: bot was blocked by the user');
    const now = Date.now();
    const last = lastSendAt.get(chatKey);
    if (options.chatIntervalMs !== undefined && last !== undefined && now - last < options.chatIntervalMs)
      return fail(429, `Too Many Requests: retry after ${Math.ceil((options.chatIntervalMs - (now - last)) / 1000)}`, {
        retry_after: Math.ceil((options.chatIntervalMs - (now - last)) / 1000),
      });
    lastSendAt.set(chatKey, now);
    const messageId = (messageIds.get(chatKey) ?? 0) + 1;
    messageIds.set(chatKey, messageId);
    const reply = p.reply_parameters as { message_id?: number } | undefined;
    sent.push({ token: bot.token, chatId: String(chatId), messageId, text, replyToMessageId: reply?.message_id ?? null });
    return ok({
      message_id: messageId,
      date: Math.floor(now / 1000),
      chat: { id: Number(chatId), type: 'private' },
      from: { id: bot.id, is_bot: true, first_name: bot.firstName, username: bot.username },
      text,
    });
  };

  const perform = (bot: BotState, method: string, p: Record<string, unknown>): BotApiAnswer => {
    switch (method) {
      case 'getMe':
        return ok({
          id: bot.id,
          is_bot: true,
          first_name: bot.firstName,
          username: bot.username,
          can_join_groups: true,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
        });
      case 'setWebhook': {
        const url = typeof p.url === 'string' ? p.url : '';
        if (url === '') return bot.webhook ? ((bot.webhook = null), ok(true, 'Webhook was deleted')) : ok(true, 'Webhook is already deleted');
        if (!/^https?:\/\/[^\s]+$/.test(url)) return fail(400, 'Bad Request: bad webhook: Failed to resolve host: Name or service not known');
        const secret = p.secret_token;
        if (secret !== undefined && (typeof secret !== 'string' || !SECRET_TOKEN.test(secret)))
          return fail(400, 'Bad Request: bad webhook: Secret token contains unallowed characters');
        const maxConnections = typeof p.max_connections === 'number' ? p.max_connections : 40;
        if (maxConnections < 1 || maxConnections > 100) return fail(400, 'Bad Request: bad webhook: max_connections must be 1-100');
        const allowedUpdates = Array.isArray(p.allowed_updates) ? p.allowed_updates.map(String) : (bot.webhook?.allowedUpdates ?? []);
        if (p.drop_pending_updates === true) bot.pendingUpdateCount = 0;
        bot.webhook = { url, secretToken: (secret as string | undefined) ?? null, allowedUpdates, maxConnections };
        return ok(true, 'Webhook was set');
      }
      case 'deleteWebhook': {
        const had = bot.webhook !== null;
        bot.webhook = null;
        if (p.drop_pending_updates === true) bot.pendingUpdateCount = 0;
        return ok(true, had ? 'Webhook was deleted' : 'Webhook is already deleted');
      }
      case 'getWebhookInfo':
        return ok({
          url: bot.webhook?.url ?? '',
          has_custom_certificate: false,
          pending_update_count: bot.pendingUpdateCount,
          ...(bot.webhook ? { max_connections: bot.webhook.maxConnections, allowed_updates: bot.webhook.allowedUpdates } : {}),
          ...(bot.lastError ? { last_error_date: bot.lastError.date, last_error_message: bot.lastError.message } : {}),
        });
      case 'sendMessage':
        return sendMessage(bot, p);
      default:
        return fail(404, 'Not Found');
    }
  };

  return { sent, blocked, perform };
};
