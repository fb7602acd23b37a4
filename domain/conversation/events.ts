import type { DomainEvent } from '../shared/decider.ts';
import type { ConversationId, TenantId } from '../shared/ids.ts';

export const CHANNELS = ['api', 'telegram', 'whatsapp'] as const;
export type Channel = (typeof CHANNELS)[number];
export const MESSAGE_ROLES = ['user', 'agent', 'system'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

type Event<Type extends string, Data> = DomainEvent<Type, Readonly<Data> & { readonly at: string }>;

export type ConversationStarted = Event<
  'ConversationStarted',
  {
    conversationId: ConversationId;
    tenantId: TenantId;
    channel: Channel;
    externalChatId: string | null;
    title: string | null;
  }
>;
/**
 * Where a bot user's message came from. `order` is the platform's ordering key (Telegram `update_id`,
 * WhatsApp's timestamp); `seq` is the message's place in the history, decided when it was posted: its
 * revision, or — when it arrived after a later message of its chat — a decimal between its neighbours.
 */
export interface ExternalOrigin {
  readonly messageId: string;
  readonly order: number;
  readonly seq: string;
}
/**
 * v2 added `external` (null for messages not from a bot user, and for every v1 message) and `inReplyTo`:
 * the user message an agent's reply answers (null for user messages and v1 events).
 */
export type MessagePosted = Event<
  'MessagePosted',
  { messageId: string; role: MessageRole; channel: Channel; text: string; external: ExternalOrigin | null; inReplyTo: string | null }
>;
/**
 * v2: a split text has one platform id per part (`externalMessageIds`); `unconfirmedParts` counts parts
 * whose send was attempted by a worker that died before it heard the answer (never sent twice).
 */
export type MessageDelivered = Event<
  'MessageDelivered',
  { messageId: string; channel: Channel; externalMessageIds: readonly string[]; unconfirmedParts: number }
>;
export type MessageDeliveryFailed = Event<
  'MessageDeliveryFailed',
  { messageId: string; channel: Channel; reason: string; retryable: boolean }
>;
export const MESSAGE_STATUSES = ['sent', 'delivered', 'read', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
/**
 * A platform's report on a message we sent (WhatsApp statuses). `messageId` is ours when the platform id
 * is one of the conversation's recent deliveries, else null.
 */
export type MessageStatusReported = Event<
  'MessageStatusReported',
  { messageId: string | null; externalMessageId: string; status: MessageStatus; errorCode: number | null }
>;
export type ConversationClosed = Event<'ConversationClosed', { reason: string }>;
/** The agent cannot answer yet (its bridge is not connected): the user message waits, and the conversation shows it. */
export type AgentReplyDelayed = Event<'AgentReplyDelayed', { inReplyTo: string; reason: string }>;
/** The agent failed or timed out; recorded with the polite fallback reply that was posted instead. */
export type AgentReplyFailed = Event<'AgentReplyFailed', { inReplyTo: string; reason: string }>;

export type ConversationEvent =
  | ConversationStarted
  | MessagePosted
  | MessageDelivered
  | MessageDeliveryFailed
  | MessageStatusReported
  | ConversationClosed
  | AgentReplyDelayed
  | AgentReplyFailed;

/** Every event type name; the `satisfies` fails to compile when one is missing or unknown. */
export const CONVERSATION_EVENT_TYPES = Object.keys({
  ConversationStarted: true,
  MessagePosted: true,
  MessageDelivered: true,
  MessageDeliveryFailed: true,
  MessageStatusReported: true,
  ConversationClosed: true,
  AgentReplyDelayed: true,
  AgentReplyFailed: true,
} satisfies Record<ConversationEvent['type'], true>) as readonly ConversationEvent['type'][];
