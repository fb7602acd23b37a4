import { z } from 'zod';
import { inboundText } from '../channels/inbound-text.ts';
import { secretMatchesHash } from '../channels/secrets.ts';

/** Telegram echoes the webhook's `secret_token` in this header of every update (lower-cased as node sees it). */
export const TELEGRAM_SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/**
 * Whether a request's secret header is the bot's webhook secret, whose SHA-256 is stored (see
 * `hashSecret`). Constant time; a missing, repeated or empty header is simply false.
 */
export const telegramSecretMatches = (header: string | string[] | undefined, secretHash: string): boolean =>
  typeof header === 'string' && secretMatchesHash(header, secretHash);

export type TelegramSender = {
  readonly id: string;
  readonly isBot: boolean;
  readonly firstName: string;
  readonly username: string | null;
  readonly languageCode: string | null;
};

/** What arrived that is not a text message: answered politely, never posted as the user's message. */
export type TelegramKindWithoutText =
  | 'photo' | 'sticker' | 'voice' | 'video' | 'video_note' | 'audio' | 'document' | 'animation'
  | 'location' | 'contact' | 'poll' | 'other_message' | 'edited_message' | 'callback_query' | 'my_chat_member';

/**
 * One parsed update. Chat ids are strings (the conversation's externalChatId). `ignored` is anything
 * that cannot be tied to a chat or is not an update at all: the route answers 200 and appends nothing.
 */
export type TelegramUpdate =
  | {
      readonly type: 'text';
      readonly updateId: number;
      readonly chatId: string;
      readonly chatType: string;
      readonly messageId: number;
      /** Unix seconds. */
      readonly date: number;
      readonly from: TelegramSender | null;
      readonly text: string;
    }
  | {
      readonly type: 'without_text';
      readonly updateId: number;
      readonly chatId: string;
      readonly from: TelegramSender | null;
      readonly kind: TelegramKindWithoutText;
      readonly messageId: number | null;
      /** callback_query: the id to answer it with; my_chat_member: the bot's new status (`kicked` = the user blocked it). */
      readonly detail: string | null;
    }
  | { readonly type: 'ignored'; readonly updateId: number | null; readonly reason: string };

const user = z.object({
  id: z.number().int(),
  is_bot: z.boolean(),
  first_name: z.string(),
  username: z.string().optional(),
  language_code: z.string().optional(),
});
const chat = z.object({ id: z.number().int(), type: z.string() });
const message = z.looseObject({ message_id: z.number().int(), date: z.number().int(), chat, from: user.optional(), text: z.string().optional() });
const update = z.object({
  update_id: z.number().int().nonnegative(),
  message: message.optional(),
  edited_message: message.optional(),
  callback_query: z.object({ id: z.string(), from: user, message: z.object({ message_id: z.number().int(), chat }).optional() }).optional(),
  my_chat_member: z.object({ chat, from: user, new_chat_member: z.object({ status: z.string() }) }).optional(),
});

const MEDIA_KINDS = [
  'photo', 'sticker', 'voice', 'video', 'video_note', 'audio', 'document', 'animation', 'location', 'contact', 'poll',
] as const;

const senderOf = (from: z.infer<typeof user> | undefined): TelegramSender | null =>
  from
    ? {
        id: String(from.id),
        isBot: from.is_bot,
        firstName: from.first_name,
        username: from.username ?? null,
        languageCode: from.language_code ?? null,
      }
    : null;

/**
 * A webhook body (already JSON-parsed, of any shape) as one update. Never throws: a body Telegram would
 * not send, or a kind we do not handle, is `ignored`, so the route answers 200 and Telegram stops retrying.
 */
export const parseTelegramUpdate = (body: unknown): TelegramUpdate => {
  const parsed = update.safeParse(body);
  if (!parsed.success) {
    const id = (body as { update_id?: unknown } | null)?.update_id;
    return { type: 'ignored', updateId: Number.isSafeInteger(id) ? (id as number) : null, reason: 'not_an_update' };
  }
  const u = parsed.data;
  const updateId = u.update_id;
  const withoutText = (
    chatId: number,
    from: z.infer<typeof user> | undefined,
    kind: TelegramKindWithoutText,
    messageId: number | null,
    detail: string | null = null,
  ): TelegramUpdate => ({ type: 'without_text', updateId, chatId: String(chatId), from: senderOf(from), kind, messageId, detail });

  if (u.message) {
    const m = u.message;
    const text = m.text === undefined ? null : inboundText(m.text);
    if (text !== null) {
      const chatId = String(m.chat.id);
      return { type: 'text', updateId, chatId, chatType: m.chat.type, messageId: m.message_id, date: m.date, from: senderOf(m.from), text };
    }
    const kind = MEDIA_KINDS.find((k) => k in m) ?? 'other_message';
    return withoutText(m.chat.id, m.from, kind, m.message_id);
  }
  if (u.edited_message) return withoutText(u.edited_message.chat.id, u.edited_message.from, 'edited_message', u.edited_message.message_id);
  const query = u.callback_query;
  if (query?.message) return withoutText(query.message.chat.id, query.from, 'callback_query', query.message.message_id, query.id);
  if (u.my_chat_member) {
    const change = u.my_chat_member;
    return withoutText(change.chat.id, change.from, 'my_chat_member', null, change.new_chat_member.status);
  }
  return { type: 'ignored', updateId, reason: 'unhandled_update_kind' };
};
