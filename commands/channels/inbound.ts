import { randomUUID } from 'node:crypto';
import type { TenantId } from '../../domain/index.ts';
import { conversationDecider } from '../../domain/index.ts';
import type { MessageStatus } from '../../domain/conversation/events.ts';
import { asConversationId } from '../../domain/shared/ids.ts';
import { conversationStream } from '../../domain/shared/streams.ts';
import { postMessage } from '../conversations/post-message.ts';
import { startConversation } from '../conversations/start-conversation.ts';
import { accepted, envelope } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

export type BotChannel = 'telegram' | 'whatsapp';

/** One conversation per chat and channel; its id says which (Telegram chat ids may be negative). */
export const botConversationId = (channel: BotChannel, chatId: string) => asConversationId(`${channel}-${chatId}`);

export interface InboundMessage {
  readonly channel: BotChannel;
  readonly chatId: string;
  readonly text: string;
  /** Our id of the message: derived from the platform's (update_id, wamid), so a redelivery is the same message. */
  readonly messageId: string;
  readonly platformMessageId: string;
  /** The platform's ordering key: the history follows it (see domain/conversation/place.ts). */
  readonly order: number;
  /** Who wrote, as the event's actor: `telegram:<user id>`, `whatsapp:<wa_id>`. */
  readonly actor: string;
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
  const conversationId = botConversationId(m.channel, m.chatId);
  await startConversation(ports, botCaller(tenantId, m.actor, `${m.channel}-chat-${m.chatId}`), { title: null }, {
    conversationId,
    channel: m.channel,
    externalChatId: m.chatId,
  });
  const result = await postMessage(
    ports,
    botCaller(tenantId, m.actor, `${m.channel}-message-${m.messageId}`),
    conversationId,
    { text: m.text },
    { role: 'user', channel: m.channel, messageId: m.messageId, external: { messageId: m.platformMessageId, order: m.order } },
  );
  return { ...result, conversationId };
};

/** A platform's status of a message we sent; null when the chat has no conversation here. */
export const reportMessageStatus = async (
  ports: CommandPorts,
  tenantId: TenantId,
  report: { channel: BotChannel; chatId: string; externalMessageId: string; status: MessageStatus; errorCode: number | null },
): Promise<Accepted | null> => {
  const stream = conversationStream(tenantId, botConversationId(report.channel, report.chatId));
  const { state } = await ports.shell.state(conversationDecider, stream);
  if (state.status === 'none') return null;
  const key = `${report.channel}-status-${report.externalMessageId}-${report.status}`;
  const { externalMessageId, status, errorCode } = report;
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
