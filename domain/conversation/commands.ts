import type { ConversationId, TenantId } from '../shared/ids.ts';
import type { TenantFacts } from '../tenant/facts.ts';
import type { Channel, MessageRole, MessageStatus } from './events.ts';

type Command<Type extends string, Data> = Readonly<Data> & { readonly type: Type; readonly at: string };

export type StartConversation = Command<
  'StartConversation',
  {
    conversationId: ConversationId;
    tenantId: TenantId;
    channel: Channel;
    externalChatId: string | null;
    title: string | null;
    tenant: TenantFacts;
  }
>;
/**
 * `messagesToday` is the tenant's count of user messages today, looked up by the handler;
 * `inReplyTo` names the user message an agent's reply answers.
 */
export type PostMessage = Command<
  'PostMessage',
  {
    messageId: string;
    role: MessageRole;
    channel: Channel;
    text: string;
    tenant: TenantFacts;
    messagesToday: number;
    /** A bot user's message: the platform's message id and ordering key. */
    external?: { messageId: string; order: number } | null;
    inReplyTo?: string | null;
  }
>;
/** The agent cannot answer `inReplyTo` yet; said once per user message (the caller's idempotency key). */
export type RecordAgentReplyDelayed = Command<'RecordAgentReplyDelayed', { inReplyTo: string; reason: string }>;
/** The agent failed on `inReplyTo`: the failure and the fallback reply, appended together, once. */
export type RecordAgentReplyFailed = Command<
  'RecordAgentReplyFailed',
  { inReplyTo: string; reason: string; fallback: { messageId: string; channel: Channel; text: string } }
>;
/** Delivery records are bookkeeping of work already in flight: they carry no tenant facts. */
export type RecordMessageDelivered = Command<
  'RecordMessageDelivered',
  { messageId: string; channel: Channel; externalMessageIds: readonly string[]; unconfirmedParts: number }
>;
export type RecordMessageDeliveryFailed = Command<
  'RecordMessageDeliveryFailed',
  { messageId: string; channel: Channel; reason: string; retryable: boolean }
>;
export type RecordMessageStatus = Command<
  'RecordMessageStatus',
  { externalMessageId: string; status: MessageStatus; errorCode: number | null }
>;
export type CloseConversation = Command<'CloseConversation', { reason: string; tenant: TenantFacts }>;

export type ConversationCommand =
  | StartConversation
  | PostMessage
  | RecordMessageDelivered
  | RecordMessageDeliveryFailed
  | RecordMessageStatus
  | CloseConversation
  | RecordAgentReplyDelayed
  | RecordAgentReplyFailed;
