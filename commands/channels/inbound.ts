import { randomUUID } from 'node:crypto';
import type { TenantId } from '../../domain/index.ts';
import { conversationDecider } from '../../domain/index.ts';
import type { MessageStatus } from '../../domain/conversation/events.ts';
import { encryptionUnavailable } from '../../domain/ports/keys.ts';
import type { Pseudonymize } from '../../domain/ports/keys.ts';
import { asConversationId } from '../../domain/shared/ids.ts';
import { conversationStream } from '../../domain/shared/streams.ts';
import { postMessage } from '../conversations/post-message.ts';
import { startConversation } from '../conversations/start-conversation.ts';
import { accepted, envelope } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

export type BotChannel = 'telegram' | 'whatsapp';

/**
 * A platform's ids are a bot user's personal data (a Telegram chat or user id, a WhatsApp number; a
 * wamid carries the number too), so the log keeps only their pseudonyms, under the tenant's key:
 * the conversation of a chat, the actor of a user, our id of a message and the platform's id of it.
 * The chat id itself is sealed in ConversationStarted.externalChatId, for the replies.
 */
const PSEUDONYM = { chat: 'chat', user: 'user', message: 'message' } as const;

/** The tenant's pseudonyms (refused where the process holds no keys: the ids must not be kept in clear). */
export const pseudonymsOf = async (ports: CommandPorts, tenantId: TenantId): Promise<Pseudonymize> => {
  if (!ports.pseudonyms) throw encryptionUnavailable();
  return ports.pseudonyms(tenantId);
};

/** One conversation per chat and channel: the channel, then the chat id's pseudonym. */
export const botConversationId = (channel: BotChannel, pseudonym: Pseudonymize, chatId: string) =>
  asConversationId(`${channel}-${pseudonym(PSEUDONYM.chat, `${channel}:${chatId}`)}`);

/** How the log names a message id of the platform's (one we received or one we sent). */
export const platformMessageRef = (channel: BotChannel, pseudonym: Pseudonymize, platformMessageId: string) =>
  pseudonym(PSEUDONYM.message, `${channel}:${platformMessageId}`);

export interface InboundMessage {
  readonly channel: BotChannel;
  readonly chatId: string;
  /** Who wrote (Telegram's user id, WhatsApp's wa_id), or null when the platform does not say. */
  readonly userId: string | null;
  readonly text: string;
  /**
   * The platform's unique id of this delivery, for the bot or number (Telegram: `<bot id>-<update id>`,
   * WhatsApp: the wamid): our id of the message derives from it, so a redelivery is the same message.
   */
  readonly deliveryId: string;
  /** The platform's id of the message (Telegram's message_id, WhatsApp's wamid). */
  readonly platformMessageId: string;
  /** The platform's ordering key: the history follows it (see domain/conversation/place.ts). */
  readonly order: number;
}

const botCaller = (tenantId: TenantId, actor: string, key: string): Caller => ({
  tenantId,
  actor,
  correlationId: randomUUID(),
  idempotency: { key, fingerprint: key },
});

/**
 * A bot user's message: the conversation of its chat (started on first contact), then the message,
 * both keyed by the platform's ids, so a redelivered update appends nothing and answers as the first.
 * The tenant's suspension and daily quota refuse it as they refuse the API's.
 */
export const receiveBotMessage = async (ports: CommandPorts, tenantId: TenantId, m: InboundMessage): Promise<Accepted & { conversationId: string }> => {
  const pseudonym = await pseudonymsOf(ports, tenantId);
  const conversationId = botConversationId(m.channel, pseudonym, m.chatId);
  const actor = `${m.channel}:${m.userId === null ? 'unknown' : pseudonym(PSEUDONYM.user, `${m.channel}:${m.userId}`)}`;
  const messageId = `${m.channel === 'telegram' ? 'tg' : 'wa'}-${pseudonym(PSEUDONYM.message, `${m.channel}-delivery:${m.deliveryId}`)}`;
  await startConversation(ports, botCaller(tenantId, actor, `${conversationId}-start`), { title: null }, {
    conversationId,
    channel: m.channel,
    externalChatId: m.chatId,
  });
  const result = await postMessage(
    ports,
    botCaller(tenantId, actor, `${conversationId}-${messageId}`),
    conversationId,
    { text: m.text },
    { role: 'user', channel: m.channel, messageId, external: { messageId: platformMessageRef(m.channel, pseudonym, m.platformMessageId), order: m.order } },
  );
  return { ...result, conversationId };
};

/** A platform's status of a message we sent; null when the chat has no conversation here. */
export const reportMessageStatus = async (
  ports: CommandPorts,
  tenantId: TenantId,
  report: { channel: BotChannel; chatId: string; externalMessageId: string; status: MessageStatus; errorCode: number | null },
): Promise<Accepted | null> => {
  const pseudonym = await pseudonymsOf(ports, tenantId);
  const conversationId = botConversationId(report.channel, pseudonym, report.chatId);
  const stream = conversationStream(tenantId, conversationId);
  const { state } = await ports.shell.state(conversationDecider, stream);
  if (state.status === 'none') return null;
  const externalMessageId = platformMessageRef(report.channel, pseudonym, report.externalMessageId);
  const { status, errorCode } = report;
  const key = `${conversationId}-status-${externalMessageId}-${status}`;
  return accepted(
    await ports.shell.handle(
      conversationDecider,
      envelope(botCaller(tenantId, `${report.channel}:platform`, key), stream, {
        type: 'RecordMessageStatus',
        externalMessageId,
        status,
        errorCode,
        at: ports.clock().toISOString(),
      }),
    ),
  );
};
