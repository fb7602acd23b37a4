import { unreachable } from '../shared/decider.ts';
import { domainError } from '../shared/errors.ts';
import { requireActiveTenant } from '../tenant/facts.ts';
import { TIER_LIMITS } from '../tiers.ts';
import type * as C from './commands.ts';
import type { ConversationCommand } from './commands.ts';
import { MESSAGE_STATUSES } from './events.ts';
import type { ConversationEvent, ConversationStarted, ExternalOrigin, MessageRole } from './events.ts';
import { placeInbound } from './place.ts';
import type { ConversationState, ExistingConversation, PendingDelivery } from './state.ts';
import * as v from './validate.ts';
import { windowHas } from './window.ts';

type Events = readonly ConversationEvent[];

const existing = (state: ConversationState): ExistingConversation => {
  if (state.status === 'none') throw domainError('not_found', 'conversation_not_found', 'conversation not found');
  return state;
};

const startConversation = (c: C.StartConversation, state: ConversationState): Events => {
  requireActiveTenant(c.tenant);
  const channel = v.checkChannel(c.channel);
  const externalChatId =
    c.externalChatId === null && channel === 'api'
      ? null
      : v.checkToken(c.externalChatId, 'invalid_external_chat_id', 'external chat id');
  const title = c.title === null ? null : v.checkText(c.title, 200, 'invalid_title', 'title').trim();
  const started: ConversationStarted['data'] = {
    conversationId: v.checkConversationId(c.conversationId),
    tenantId: v.checkTenantId(c.tenantId),
    channel,
    externalChatId,
    title,
    at: c.at,
  };
  if (state.status === 'none') return [{ type: 'ConversationStarted', data: started }];
  const same = (['conversationId', 'tenantId', 'channel', 'externalChatId', 'title'] as const).every(
    (field) => state[field] === started[field],
  );
  if (same) return [];
  throw domainError('conflict', 'conversation_exists', 'the conversation exists with other details');
};

const postMessage = (c: C.PostMessage, state: ConversationState): Events => {
  const tier = requireActiveTenant(c.tenant);
  const conversation = existing(state);
  const messageId = v.checkToken(c.messageId, 'invalid_message_id', 'message id');
  if (windowHas(conversation.recentMessageIds, messageId)) return [];
  if (conversation.status === 'closed') throw domainError('conflict', 'conversation_closed', 'the conversation is closed');
  const role = v.checkRole(c.role);
  const asked = v.checkChannel(c.channel);
  if (asked !== 'api' && asked !== conversation.channel)
    throw domainError('conflict', 'channel_mismatch', `this conversation is on ${conversation.channel}`);
  // The agent's (or the system's) answer in a bot conversation goes back to the bot user, whoever posts it.
  const channel = role !== 'user' ? conversation.channel : asked;
  const text = v.checkText(c.text, v.MAX_MESSAGE_TEXT, 'invalid_message_text', 'message text');
  if (role === 'user') {
    const limit = TIER_LIMITS[tier].messagesPerDay;
    if (v.checkMessagesToday(c.messagesToday) >= limit)
      throw domainError('limit', 'message_quota_exceeded', `the ${tier} tier allows ${limit} messages a day`, { tier, limit });
  }
  const external = externalOrigin(c, conversation, role, channel);
  const inReplyTo = replyTarget(c.inReplyTo ?? null, role);
  return [{ type: 'MessagePosted', data: { messageId, role, channel, text, external, inReplyTo, at: c.at } }];
};

/** A bot user's message keeps the platform's id and ordering key, and gets its place in the history. */
const externalOrigin = (
  c: C.PostMessage,
  conversation: ExistingConversation,
  role: string,
  channel: string,
): ExternalOrigin | null => {
  if (!c.external) return null;
  if (role !== 'user' || channel === 'api')
    throw domainError('validation', 'invalid_external_origin', 'only a bot user message comes from a platform');
  const messageId = v.checkToken(c.external.messageId, 'invalid_external_message_id', 'external message id');
  const order = c.external.order;
  if (!Number.isSafeInteger(order) || order < 0) throw domainError('validation', 'invalid_external_order', 'the ordering key must be a non-negative integer');
  return { messageId, order, seq: placeInbound(conversation.inbound, order, conversation.revision + 1) };
};

/** Only the agent's and the system's messages answer another; a user message answers nothing. */
const replyTarget = (inReplyTo: string | null, role: MessageRole): string | null => {
  if (inReplyTo === null) return null;
  if (role === 'user') throw domainError('validation', 'invalid_in_reply_to', 'a user message cannot be a reply');
  return v.checkToken(inReplyTo, 'invalid_in_reply_to', 'inReplyTo');
};

const recordReplyDelayed = (c: C.RecordAgentReplyDelayed, state: ConversationState): Events => {
  existing(state);
  const inReplyTo = v.checkToken(c.inReplyTo, 'invalid_in_reply_to', 'inReplyTo');
  const reason = v.checkText(c.reason, 500, 'invalid_reason', 'reason').trim();
  return [{ type: 'AgentReplyDelayed', data: { inReplyTo, reason, at: c.at } }];
};

/** Failure and fallback in one append; a repeat (the fallback already posted) is satisfied; a closed conversation refuses it. */
const recordReplyFailed = (c: C.RecordAgentReplyFailed, state: ConversationState): Events => {
  const conversation = existing(state);
  const inReplyTo = v.checkToken(c.inReplyTo, 'invalid_in_reply_to', 'inReplyTo');
  const reason = v.checkText(c.reason, 2000, 'invalid_reason', 'reason').trim();
  const messageId = v.checkToken(c.fallback.messageId, 'invalid_message_id', 'message id');
  if (windowHas(conversation.recentMessageIds, messageId)) return [];
  // as a reply would be: nothing more is said in a closed conversation
  if (conversation.status === 'closed') throw domainError('conflict', 'conversation_closed', 'the conversation is closed');
  v.checkChannel(c.fallback.channel);
  // like any agent reply, the fallback goes back on the conversation's channel (see postMessage)
  const channel = conversation.channel;
  const text = v.checkText(c.fallback.text, v.MAX_MESSAGE_TEXT, 'invalid_message_text', 'message text');
  return [
    { type: 'AgentReplyFailed', data: { inReplyTo, reason, at: c.at } },
    { type: 'MessagePosted', data: { messageId, role: 'agent', channel, text, external: null, inReplyTo, at: c.at } },
  ];
};

/** The delivery a record refers to; undefined when it was already settled, so the record is a repeat. */
const pendingDelivery = (
  conversation: ExistingConversation,
  command: C.RecordMessageDelivered | C.RecordMessageDeliveryFailed,
): PendingDelivery | undefined => {
  const messageId = v.checkToken(command.messageId, 'invalid_message_id', 'message id');
  const pending = conversation.pendingDeliveries.find((p) => p.messageId === messageId);
  if (!pending) {
    if (windowHas(conversation.settledDeliveries, messageId)) return undefined;
    if (windowHas(conversation.recentMessageIds, messageId))
      throw domainError('conflict', 'message_not_pending', 'this message awaits no delivery');
    throw domainError('not_found', 'message_not_found', 'message not found');
  }
  if (pending.channel !== command.channel)
    throw domainError('conflict', 'channel_mismatch', `this message is delivered on ${pending.channel}`);
  return pending;
};

const recordDelivered = (c: C.RecordMessageDelivered, state: ConversationState): Events => {
  if (!Array.isArray(c.externalMessageIds) || c.externalMessageIds.length > 64)
    throw domainError('validation', 'invalid_external_message_id', 'at most 64 external message ids');
  const externalMessageIds = c.externalMessageIds.map((id) => v.checkToken(id, 'invalid_external_message_id', 'external message id'));
  const unconfirmedParts = c.unconfirmedParts;
  if (!Number.isSafeInteger(unconfirmedParts) || unconfirmedParts < 0 || unconfirmedParts > 64)
    throw domainError('validation', 'invalid_unconfirmed_parts', 'unconfirmed parts must be 0–64');
  if (externalMessageIds.length + unconfirmedParts === 0)
    throw domainError('validation', 'invalid_external_message_id', 'a delivery has at least one part');
  const pending = pendingDelivery(existing(state), c);
  if (!pending) return [];
  return [{ type: 'MessageDelivered', data: { ...pending, externalMessageIds, unconfirmedParts, at: c.at } }];
};

const recordStatus = (c: C.RecordMessageStatus, state: ConversationState): Events => {
  const conversation = existing(state);
  const externalMessageId = v.checkToken(c.externalMessageId, 'invalid_external_message_id', 'external message id');
  if (!(MESSAGE_STATUSES as readonly unknown[]).includes(c.status)) throw domainError('validation', 'invalid_status', 'unknown message status');
  if (c.errorCode !== null && !Number.isSafeInteger(c.errorCode)) throw domainError('validation', 'invalid_error_code', 'error code must be an integer');
  const messageId = conversation.externalIds.find(([id]) => id === externalMessageId)?.[1] ?? null;
  return [{ type: 'MessageStatusReported', data: { messageId, externalMessageId, status: c.status, errorCode: c.errorCode, at: c.at } }];
};

const recordFailed = (c: C.RecordMessageDeliveryFailed, state: ConversationState): Events => {
  const reason = v.checkText(c.reason, 500, 'invalid_reason', 'reason').trim();
  if (typeof c.retryable !== 'boolean') throw domainError('validation', 'invalid_retryable', 'retryable must be a boolean');
  const pending = pendingDelivery(existing(state), c);
  if (!pending) return [];
  return [{ type: 'MessageDeliveryFailed', data: { ...pending, reason, retryable: c.retryable, at: c.at } }];
};

const close = (c: C.CloseConversation, state: ConversationState): Events => {
  requireActiveTenant(c.tenant);
  const conversation = existing(state);
  const reason = v.checkText(c.reason, 500, 'invalid_reason', 'reason').trim();
  return conversation.status === 'closed' ? [] : [{ type: 'ConversationClosed', data: { reason, at: c.at } }];
};

export const decideConversation = (command: ConversationCommand, state: ConversationState): Events => {
  switch (command.type) {
    case 'StartConversation':
      return startConversation(command, state);
    case 'PostMessage':
      return postMessage(command, state);
    case 'RecordMessageDelivered':
      return recordDelivered(command, state);
    case 'RecordMessageDeliveryFailed':
      return recordFailed(command, state);
    case 'RecordMessageStatus':
      return recordStatus(command, state);
    case 'CloseConversation':
      return close(command, state);
    case 'RecordAgentReplyDelayed':
      return recordReplyDelayed(command, state);
    case 'RecordAgentReplyFailed':
      return recordReplyFailed(command, state);
    default:
      return unreachable(command);
  }
};
