import { describe, expect, it } from 'vitest';
import { conversationDecider, RECENT_MESSAGE_IDS, windowIds } from '../../domain/conversation/index.ts';
import type { Channel, ConversationCommand, ConversationEvent } from '../../domain/conversation/index.ts';
import { fold } from '../../domain/shared/decider.ts';
import { asConversationId, asTenantId } from '../../domain/shared/ids.ts';
import type { TenantFacts } from '../../domain/tenant/index.ts';
import { TIER_LIMITS } from '../../domain/tiers.ts';
import { spec } from '../support/decider-spec.ts';

const at = '2025-03-01T10:00:00.000Z';
const tenantId = asTenantId('acme');
const conversationId = asConversationId('c-1');
const active: TenantFacts = { status: 'active', tier: 'free' };
const given = spec(conversationDecider).given;

const started: ConversationEvent = {
  type: 'ConversationStarted',
  data: { conversationId, tenantId, channel: 'telegram', externalChatId: '424242', title: 'Support', at },
};
const start: ConversationCommand = {
  type: 'StartConversation',
  conversationId,
  tenantId,
  channel: 'telegram',
  externalChatId: '424242',
  title: 'Support',
  tenant: active,
  at,
};
const posted = (messageId: string, role: 'user' | 'agent' | 'system' = 'user', channel: Channel = 'telegram'): ConversationEvent => ({
  type: 'MessagePosted',
  data: { messageId, role, channel, text: `text of ${messageId}`, external: null, inReplyTo: null, at },
});
const post = (messageId: string, role: 'user' | 'agent' | 'system' = 'user', extra: Partial<ConversationCommand> = {}) =>
  ({
    type: 'PostMessage',
    messageId,
    role,
    channel: 'telegram',
    text: `text of ${messageId}`,
    tenant: active,
    messagesToday: 0,
    at,
    ...extra,
  }) as ConversationCommand;
const closed: ConversationEvent = { type: 'ConversationClosed', data: { reason: 'resolved', at } };
const delivered = (messageId: string): ConversationEvent => ({
  type: 'MessageDelivered',
  data: { messageId, channel: 'telegram', externalMessageIds: [`tg-${messageId}`], unconfirmedParts: 0, at },
});
const deliver = (messageId: string): ConversationCommand => ({
  type: 'RecordMessageDelivered',
  messageId,
  channel: 'telegram',
  externalMessageIds: [`tg-${messageId}`],
  unconfirmedParts: 0,
  at,
});
const fail = (messageId: string, retryable: boolean): ConversationCommand => ({
  type: 'RecordMessageDeliveryFailed',
  messageId,
  channel: 'telegram',
  reason: 'chat not found',
  retryable,
  at,
});

describe('StartConversation', () => {
  it('starts a conversation', () => given([]).when(start).then([started]));
  it('is a no-op to start it again with the same fields', () => given([started]).when(start).thenNothing());
  it('refuses to start it again with other fields', () =>
    given([started]).when({ ...start, title: 'Sales' } as ConversationCommand).thenThrows('conversation_exists'));
  it('needs an active tenant', () => {
    given([]).when({ ...start, tenant: { status: 'suspended', tier: 'free' } } as ConversationCommand).thenThrows('tenant_suspended');
    given([]).when({ ...start, tenant: { status: 'none', tier: 'free' } } as ConversationCommand).thenThrows('tenant_not_found');
    given([]).when({ ...start, tenant: { status: 'erased', tier: 'free' } } as ConversationCommand).thenThrows('tenant_erased');
  });
  it('needs an external chat id on an external channel, and none on the api', () => {
    given([]).when({ ...start, externalChatId: null } as ConversationCommand).thenThrows('invalid_external_chat_id');
    given([])
      .when({ ...start, channel: 'api', externalChatId: null, title: null } as ConversationCommand)
      .then([{ type: 'ConversationStarted', data: { conversationId, tenantId, channel: 'api', externalChatId: null, title: null, at } }]);
  });
});

describe('PostMessage', () => {
  it('posts a message', () => given([started]).when(post('m1')).then([posted('m1')]));
  it('refuses a missing or closed conversation', () => {
    given([]).when(post('m1')).thenThrows('conversation_not_found');
    given([started, closed]).when(post('m1')).thenThrows('conversation_closed');
  });
  it('is a no-op to post the same message id again', () => given([started, posted('m1')]).when(post('m1')).thenNothing());
  it('refuses blank or overlong text', () => {
    given([started]).when(post('m1', 'user', { text: ' \n ' })).thenThrows('invalid_message_text');
    given([started]).when(post('m1', 'user', { text: 'x'.repeat(16_001) })).thenThrows('invalid_message_text');
    const longest = 'x'.repeat(16_000);
    given([started])
      .when(post('m1', 'user', { text: longest }))
      .then([{ type: 'MessagePosted', data: { messageId: 'm1', role: 'user', channel: 'telegram', text: longest, external: null, inReplyTo: null, at } }]);
  });
  it('counts only user messages toward the daily quota', () => {
    const limit = TIER_LIMITS.free.messagesPerDay;
    const error = given([started]).when(post('m1', 'user', { messagesToday: limit })).thenThrows('message_quota_exceeded');
    expect(error.kind).toBe('limit');
    given([started]).when(post('m1', 'user', { messagesToday: limit - 1 })).then([posted('m1')]);
    given([started]).when(post('a1', 'agent', { messagesToday: limit })).then([posted('a1', 'agent')]);
    given([started])
      .when(post('m1', 'user', { messagesToday: limit, tenant: { status: 'active', tier: 'pro' } }))
      .then([posted('m1')]);
  });
  it('refuses a message while the tenant is suspended', () =>
    given([started]).when(post('m1', 'user', { tenant: { status: 'suspended', tier: 'free' } })).thenThrows('tenant_suspended'));
  it('refuses a message from another external channel', () =>
    given([started]).when(post('m1', 'user', { channel: 'whatsapp' })).thenThrows('channel_mismatch'));
});

describe('RecordMessageDelivered and RecordMessageDeliveryFailed', () => {
  it('records a delivery of an agent message; a second record is a no-op', () => {
    given([started, posted('a1', 'agent')]).when(deliver('a1')).then([delivered('a1')]);
    given([started, posted('a1', 'agent'), delivered('a1')]).when(deliver('a1')).thenNothing();
  });
  it('is bookkeeping: allowed after the conversation closed', () =>
    given([started, posted('s1', 'system'), closed]).when(deliver('s1')).then([delivered('s1')]));
  it('refuses a delivery record for a user message or an unknown message', () => {
    given([started, posted('m1')]).when(deliver('m1')).thenThrows('message_not_pending');
    given([started]).when(deliver('m9')).thenThrows('message_not_found');
    given([]).when(deliver('m9')).thenThrows('conversation_not_found');
  });
  it('keeps a message pending after a retryable failure', () => {
    const failure: ConversationEvent = {
      type: 'MessageDeliveryFailed',
      data: { messageId: 'a1', channel: 'telegram', reason: 'chat not found', retryable: true, at },
    };
    given([started, posted('a1', 'agent')]).when(fail('a1', true)).then([failure]);
    given([started, posted('a1', 'agent'), failure]).when(deliver('a1')).then([delivered('a1')]);
  });
  it('settles a message after a permanent failure', () => {
    const failure: ConversationEvent = {
      type: 'MessageDeliveryFailed',
      data: { messageId: 'a1', channel: 'telegram', reason: 'chat not found', retryable: false, at },
    };
    given([started, posted('a1', 'agent')]).when(fail('a1', false)).then([failure]);
    given([started, posted('a1', 'agent'), failure]).when(fail('a1', false)).thenNothing();
    given([started, posted('a1', 'agent'), failure]).when(deliver('a1')).thenNothing();
  });
  it('refuses a record on the wrong channel', () =>
    given([started, posted('a1', 'agent')])
      .when({ ...deliver('a1'), channel: 'whatsapp' } as ConversationCommand)
      .thenThrows('channel_mismatch'));
  it('does not wait for delivery of agent messages posted on the api', () =>
    given([started, posted('a1', 'agent', 'api')]).when(deliver('a1')).thenThrows('message_not_pending'));
});

describe('CloseConversation', () => {
  const close: ConversationCommand = { type: 'CloseConversation', reason: 'resolved', tenant: active, at };
  it('closes, and closing twice is a no-op', () => {
    given([started]).when(close).then([closed]);
    given([started, closed]).when(close).thenNothing();
  });
  it('refuses a missing conversation', () => given([]).when(close).thenThrows('conversation_not_found'));
});

describe('state size', () => {
  it('still recognises a repeat of one of the last RECENT_MESSAGE_IDS messages', () => {
    const events: ConversationEvent[] = [started];
    for (let i = 0; i < 1_000; i++) events.push(posted(`m${i}`));
    given(events).when(post(`m${1_000 - RECENT_MESSAGE_IDS}`)).thenNothing(); // in a full, shared chunk
    given(events).when(post('m999')).thenNothing(); // in the newest chunk, still filling
    given(events).when(post('m1000')).then([posted('m1000')]);
  });

  it('stays bounded however many messages the stream holds', () => {
    const events: ConversationEvent[] = [started];
    for (let i = 0; i < 5_000; i++) events.push(posted(`m${i}`, i % 2 === 0 ? 'user' : 'agent'));
    const state = fold(conversationDecider, events);
    if (state.status === 'none') throw new Error('expected a conversation');
    expect(state.messageCount).toBe(5_000);
    expect(state.userMessageCount).toBe(2_500);
    const recent = windowIds(state.recentMessageIds);
    expect(recent.length).toBeGreaterThanOrEqual(RECENT_MESSAGE_IDS);
    expect(recent.length).toBeLessThan(2 * RECENT_MESSAGE_IDS);
    expect(recent.at(-1)).toBe('m4999');
    expect(recent).toEqual(Array.from({ length: recent.length }, (_, i) => `m${5_000 - recent.length + i}`));
    expect(JSON.stringify(state).length).toBeLessThan(40_000);
  });
});
