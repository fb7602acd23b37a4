import type http from 'node:http';
import type https from 'node:https';
import { Telegraf } from 'telegraf';
import type { Telegram } from 'telegraf';
import type { Opts, Telegram as BotApi } from 'telegraf/types';
import { channelFailures } from '../channels/errors.ts';
import { createPacer, systemClock } from '../channels/pacer.ts';
import type { Clock } from '../channels/pacer.ts';
import { generateWebhookSecret } from '../channels/secrets.ts';
import { DEFAULT_RETRY_POLICY, sendTextInParts } from '../channels/send-parts.ts';
import type { RetryPolicy, SendTextOptions, SentText } from '../channels/send-parts.ts';
import { MAX_MESSAGE_CHARS } from '../channels/split-text.ts';
import { telegramFailure } from './errors.ts';

/** A tenant's bot as the caller holds it: the token is decrypted for the call and kept by no one but telegraf's client. */
export type TelegramCredentials = { readonly tenantId: string; readonly token: string };
export type TelegramBotIdentity = { readonly botId: number; readonly botUsername: string; readonly firstName: string };
export type TelegramWebhookInfo = {
  readonly url: string;
  readonly pendingUpdateCount: number;
  readonly allowedUpdates: readonly string[] | null;
  readonly lastErrorMessage: string | null;
};

/** The update kinds the webhook parser understands; anything else would only be ignored. */
export const ALLOWED_UPDATES = ['message', 'edited_message', 'callback_query', 'my_chat_member'] as const;

export type TelegramBotsOptions = {
  readonly apiRoot: string;
  readonly timeoutMs?: number;
  readonly chatIntervalMs?: number;
  /** Across all chats of one bot (Telegram: about 30 a second). */
  readonly botMessagesPerSecond?: number;
  readonly maxClients?: number;
  readonly retry?: RetryPolicy;
  readonly clock?: Clock;
  /** The HTTP agents the clients use (the bots worker's journaled ones, send-journal.ts); telegraf's own otherwise. */
  readonly agents?: { readonly http: http.Agent; readonly https: https.Agent };
};

/** Bot API tokens are `<bot id>:<secret>`; anything else would be sent into the URL path, so it never is. */
type UsedMethod = 'getMe' | 'setWebhook' | 'deleteWebhook' | 'getWebhookInfo' | 'sendMessage';

const { permanent } = channelFailures('telegram');

const TOKEN_SHAPE = /^\d{1,20}:[A-Za-z0-9_-]{20,100}$/;
const SECRET_TOKEN_SHAPE = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * The Bot API for every tenant's bot, through telegraf: one client per tenant, made on first use and kept
 * (least recently used dropped beyond `maxClients`), replaced when the tenant's token changes. Never
 * `launch()`ed: updates arrive at our own webhook route. Sends are paced per chat and per bot.
 */
export const createTelegramBots = (options: TelegramBotsOptions) => {
  const { apiRoot, timeoutMs = 10_000, chatIntervalMs = 1_000, botMessagesPerSecond = 30, maxClients = 10_000 } = options;
  const clock = options.clock ?? systemClock;
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const clients = new Map<string, Telegraf>();
  const chatPacer = createPacer({ intervalMs: chatIntervalMs, clock });
  const botPacer = createPacer({ intervalMs: Math.ceil(1000 / botMessagesPerSecond), clock });

  const clientFor = ({ tenantId, token }: TelegramCredentials): Telegram => {
    if (!TOKEN_SHAPE.test(token))
      throw permanent('telegram_token_malformed', 'a Telegram bot token looks like 123456789:AAE…');
    let bot = clients.get(tenantId);
    clients.delete(tenantId); // re-inserted last: the map stays ordered by last use
    if (bot?.telegram.token !== token) {
      bot = new Telegraf(token, { telegram: { apiRoot, webhookReply: false } });
      // telegraf drops the agent option for an http:// root, so it is set on the client's options after
      if (options.agents) (bot.telegram as unknown as { options: { agent?: http.Agent } }).options.agent = apiRoot.startsWith('https:') ? options.agents.https : options.agents.http;
    }
    clients.set(tenantId, bot);
    if (clients.size > maxClients) clients.delete(clients.keys().next().value!);
    return bot.telegram;
  };

  const call = async <M extends UsedMethod>(
    credentials: TelegramCredentials,
    method: M,
    payload: Opts<M>,
    secrets: readonly string[] = [],
  ): Promise<ReturnType<BotApi[M]>> => {
    const telegram = clientFor(credentials);
    try {
      // telegraf types its signal as the abort-controller shim's; node-fetch accepts Node's own.
      return await telegram.callApi(method, payload, { signal: AbortSignal.timeout(timeoutMs) as never });
    } catch (error) {
      throw telegramFailure(error, method, [credentials.token, ...secrets]);
    }
  };

  return {
    /** Validates a token: the bot it belongs to, or `telegram_token_rejected`. */
    async getMe(credentials: TelegramCredentials): Promise<TelegramBotIdentity> {
      const me = await call(credentials, 'getMe', {});
      return { botId: me.id, botUsername: me.username, firstName: me.first_name };
    },

    /** Points the bot's updates at `url`, with a fresh secret unless one is given; the secret is returned once, to be hashed and stored. */
    async setWebhook(
      credentials: TelegramCredentials,
      webhook: { url: string; secretToken?: string; allowedUpdates?: readonly string[]; maxConnections?: number; dropPendingUpdates?: boolean },
    ): Promise<{ secretToken: string }> {
      const secretToken = webhook.secretToken ?? generateWebhookSecret();
      if (!SECRET_TOKEN_SHAPE.test(secretToken))
        throw permanent('telegram_secret_malformed', 'a webhook secret is 1–256 of A-Z a-z 0-9 _ -');
      const payload: Opts<'setWebhook'> = {
        url: webhook.url,
        secret_token: secretToken,
        allowed_updates: [...(webhook.allowedUpdates ?? ALLOWED_UPDATES)] as Opts<'setWebhook'>['allowed_updates'],
        max_connections: webhook.maxConnections,
        drop_pending_updates: webhook.dropPendingUpdates,
      };
      await call(credentials, 'setWebhook', payload, [secretToken]);
      return { secretToken };
    },

    async deleteWebhook(credentials: TelegramCredentials, options: { dropPendingUpdates?: boolean } = {}): Promise<void> {
      await call(credentials, 'deleteWebhook', { drop_pending_updates: options.dropPendingUpdates });
    },

    async getWebhookInfo(credentials: TelegramCredentials): Promise<TelegramWebhookInfo> {
      const info = await call(credentials, 'getWebhookInfo', {});
      return {
        url: info.url ?? '',
        pendingUpdateCount: info.pending_update_count,
        allowedUpdates: info.allowed_updates ?? null,
        lastErrorMessage: info.last_error_message ?? null,
      };
    },

    /**
     * Sends a text as plain text (no parse mode: an agent's `*` or `_` must not break it), split when
     * longer than 4096, each part paced (per chat and per bot) and retried after a short 429. The first
     * part answers `replyToMessageId` when given. Resolves to Telegram's message id of each part.
     */
    async sendText(
      credentials: TelegramCredentials,
      chatId: string,
      text: string,
      options: SendTextOptions & { replyToMessageId?: number } = {},
    ): Promise<SentText> {
      const chatKey = `${credentials.tenantId}\u0000${chatId}`;
      return sendTextInParts({
        channel: 'telegram',
        text,
        maxChars: MAX_MESSAGE_CHARS,
        options,
        retry,
        clock,
        pace: async () => {
          await chatPacer.wait(chatKey);
          await botPacer.wait(credentials.tenantId);
        },
        holdFor: (failure) => chatPacer.holdUntil(chatKey, clock.now() + (failure.retryAfterMs ?? 0)),
        sendPart: async (part, index) => {
          const replyTo = index === 0 && options.replyToMessageId !== undefined;
          const payload: Opts<'sendMessage'> = {
            chat_id: chatId,
            text: part,
            link_preview_options: { is_disabled: true },
            reply_parameters: replyTo ? { message_id: options.replyToMessageId!, allow_sending_without_reply: true } : undefined,
          };
          const message = await call(credentials, 'sendMessage', payload);
          return String(message.message_id);
        },
      });
    },

    /** Drops the tenant's client (its bot was disconnected or replaced). */
    forget(tenantId: string): void {
      clients.delete(tenantId);
    },

    get cachedClients(): number {
      return clients.size;
    },
  };
};

export type TelegramBots = ReturnType<typeof createTelegramBots>;
