import type { Chat, Message, Update, User } from 'telegraf/types';

/**
 * Updates as the Bot API delivers them to a webhook, typed by telegraf's Bot API types so a shape that
 * Telegram would not send fails to compile. One builder numbers its updates and messages in order.
 */
export const telegramUser = (id: number, firstName = 'Ada', username?: string): User => ({
  id,
  is_bot: false,
  first_name: firstName,
  ...(username === undefined ? {} : { username }),
  language_code: 'en',
});

const BOT_USER: User = { id: 7_000_000_001, is_bot: true, first_name: 'Tenant bot', username: 'tenant_bot' };

type Target = { chatId: number; from?: User; date?: number };

export const telegramUpdates = (options: { firstUpdateId?: number; bot?: User } = {}) => {
  let updateId = options.firstUpdateId ?? 100_000;
  let messageId = 1;
  const bot = options.bot ?? BOT_USER;
  const senderOf = ({ chatId, from }: Target) => from ?? telegramUser(chatId);
  const privateChat = (target: Target): Chat.PrivateChat => {
    const from = senderOf(target);
    return { id: target.chatId, type: 'private', first_name: from.first_name, ...(from.username ? { username: from.username } : {}) };
  };
  const messageBase = (target: Target) => ({
    message_id: messageId++,
    date: target.date ?? 1_767_225_600,
    chat: privateChat(target),
    from: senderOf(target),
  });
  const next = () => updateId++;

  return {
    text: (target: Target & { text: string }): Update.MessageUpdate<Message.TextMessage> => ({
      update_id: next(),
      message: { ...messageBase(target), text: target.text },
    }),
    photo: (target: Target & { caption?: string }): Update.MessageUpdate<Message.PhotoMessage> => ({
      update_id: next(),
      message: {
        ...messageBase(target),
        photo: [
          { file_id: 'AgACAgIAAxkBAAIBZ2Xsmall', file_unique_id: 'AQADsmall', width: 90, height: 90, file_size: 1_234 },
          { file_id: 'AgACAgIAAxkBAAIBZ2Xlarge', file_unique_id: 'AQADlarge', width: 1280, height: 1280, file_size: 98_765 },
        ],
        ...(target.caption === undefined ? {} : { caption: target.caption }),
      },
    }),
    sticker: (target: Target): Update.MessageUpdate<Message.StickerMessage> => ({
      update_id: next(),
      message: {
        ...messageBase(target),
        sticker: {
          file_id: 'CAACAgIAAxkBAAIBa2X',
          file_unique_id: 'AgADsticker',
          type: 'regular',
          width: 512,
          height: 512,
          is_animated: false,
          is_video: false,
          emoji: '👍',
        },
      },
    }),
    editedMessage: (target: Target & { messageId: number; text: string }): Update.EditedMessageUpdate => ({
      update_id: next(),
      edited_message: { ...messageBase(target), message_id: target.messageId, edit_date: (target.date ?? 1_767_225_600) + 60, text: target.text },
    }),
    callbackQuery: (target: Target & { data: string }): Update.CallbackQueryUpdate => ({
      update_id: next(),
      callback_query: {
        id: `${target.chatId}${updateId}`,
        from: senderOf(target),
        chat_instance: '-8812345678901234567',
        data: target.data,
        message: { message_id: messageId++, date: target.date ?? 1_767_225_600, chat: privateChat(target), from: bot, text: 'Choose one' },
      },
    }),
    /** `kicked`: the user blocked the bot; `member`: they started or unblocked it. */
    myChatMember: (target: Target & { status: 'kicked' | 'member' }): Update.MyChatMemberUpdate => ({
      update_id: next(),
      my_chat_member: {
        chat: privateChat(target),
        from: senderOf(target),
        date: target.date ?? 1_767_225_600,
        old_chat_member: target.status === 'kicked' ? { status: 'member', user: bot } : { status: 'kicked', user: bot, until_date: 0 },
        new_chat_member: target.status === 'kicked' ? { status: 'kicked', user: bot, until_date: 0 } : { status: 'member', user: bot },
      },
    }),
  };
};

export type TelegramUpdateBuilder = ReturnType<typeof telegramUpdates>;
