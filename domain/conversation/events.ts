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
/** v2 added `inReplyTo`: the user message an agent's reply answers (null for user messages and v1 events). */
export type MessagePosted = Event<
  'MessagePosted',
  { messageId: string; role: MessageRole; channel: Channel; text: string; inReplyTo: string | null }
>;
export type MessageDelivered = Event<'MessageDelivered', { messageId: string; channel: Channel; externalMessageId: string }>;
export type MessageDeliveryFailed = Event<
  'MessageDeliveryFailed',
  { messageId: string; channel: Channel; reason: string; retryable: boolean }
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
  | ConversationClosed
  | AgentReplyDelayed
  | AgentReplyFailed;

/** Every event type name; the `satisfies` fails to compile when one is missing or unknown. */
export const CONVERSATION_EVENT_TYPES = Object.keys({
  ConversationStarted: true,
  MessagePosted: true,
  MessageDelivered: true,
  MessageDeliveryFailed: true,
  ConversationClosed: true,
  AgentReplyDelayed: true,
  AgentReplyFailed: true,
} satisfies Record<ConversationEvent['type'], true>) as readonly ConversationEvent['type'][];
