import { describe, expect, it } from 'vitest';
import { conversationDecider } from '../../domain/conversation/index.ts';
import type { ConversationCommand, ConversationEvent } from '../../domain/conversation/index.ts';
import { asConversationId, asTenantId } from '../../domain/shared/ids.ts';
import { tenantDecider } from '../../domain/tenant/index.ts';
import type { TenantCommand, TenantEvent } from '../../domain/tenant/index.ts';
import type { TenantFacts } from '../../domain/tenant/index.ts';
import { conversationCatalog } from '../../adapters/codec/schemas/conversation.ts';
import { spec } from '../support/decider-spec.ts';

const at = '2025-03-01T10:00:00.000Z';
const tenantId = asTenantId('acme');
const conversationId = asConversationId('c-1');
const active: TenantFacts = { status: 'active', tier: 'free' };
const started: ConversationEvent = { type: 'ConversationStarted', data: { conversationId, tenantId, channel: 'telegram', externalChatId: '4242', title: null, at } };
const asked: ConversationEvent = { type: 'MessagePosted', data: { messageId: 'u1', role: 'user', channel: 'telegram', text: 'hi', external: null, inReplyTo: null, at } };
const post = (extra: Partial<Extract<ConversationCommand, { type: 'PostMessage' }>>): ConversationCommand => ({
  type: 'PostMessage', messageId: 'r1', role: 'agent', channel: 'telegram', text: 'hello', tenant: active, messagesToday: 0, at, ...extra,
});
const conversation = spec(conversationDecider).given;

describe('agent replies on the conversation', () => {
  it('a reply names the user message it answers; a user message cannot be a reply', () => {
    conversation([started, asked]).when(post({ inReplyTo: 'u1' })).then([
      { type: 'MessagePosted', data: { messageId: 'r1', role: 'agent', channel: 'telegram', text: 'hello', external: null, inReplyTo: 'u1', at } },
    ]);
    conversation([started]).when(post({ role: 'user', inReplyTo: 'u1' })).thenThrows('invalid_in_reply_to');
    conversation([started]).when(post({ inReplyTo: 'has space' })).thenThrows('invalid_in_reply_to');
  });

  it('a failure is recorded with its fallback reply in one append, once', () => {
    const fail: ConversationCommand = {
      type: 'RecordAgentReplyFailed', inReplyTo: 'u1', reason: 'gateway timed out', fallback: { messageId: 'r1', channel: 'telegram', text: 'Sorry' }, at,
    };
    const events = conversation([started, asked]).when(fail).then([
      { type: 'AgentReplyFailed', data: { inReplyTo: 'u1', reason: 'gateway timed out', at } },
      { type: 'MessagePosted', data: { messageId: 'r1', role: 'agent', channel: 'telegram', text: 'Sorry', external: null, inReplyTo: 'u1', at } },
    ]);
    expect(events.status === 'open' && events.messageCount).toBe(2);
    conversation([started, asked, { type: 'MessagePosted', data: { messageId: 'r1', role: 'agent', channel: 'telegram', text: 'late', external: null, inReplyTo: 'u1', at } }])
      .when(fail)
      .thenNothing();
    conversation([]).when(fail).thenThrows('conversation_not_found');
  });

  it('no fallback is posted into a closed conversation, as no reply is', () => {
    const closed: ConversationEvent = { type: 'ConversationClosed', data: { reason: 'resolved', at } };
    const fail: ConversationCommand = {
      type: 'RecordAgentReplyFailed', inReplyTo: 'u1', reason: 'gateway timed out', fallback: { messageId: 'r1', channel: 'telegram', text: 'Sorry' }, at,
    };
    conversation([started, asked, closed]).when(post({ inReplyTo: 'u1' })).thenThrows('conversation_closed');
    conversation([started, asked, closed]).when(fail).thenThrows('conversation_closed');
  });

  it('the fallback goes back to the bot user like a reply, whichever channel the question came on', () => {
    const askedByApi: ConversationEvent = { type: 'MessagePosted', data: { ...asked.data, messageId: 'u2', channel: 'api' } as Extract<ConversationEvent, { type: 'MessagePosted' }>['data'] };
    const reply = conversation([started, askedByApi]).when(post({ inReplyTo: 'u2', channel: 'api' })).then([
      { type: 'MessagePosted', data: { messageId: 'r1', role: 'agent', channel: 'telegram', text: 'hello', external: null, inReplyTo: 'u2', at } },
    ]);
    expect(reply.status === 'open' && reply.pendingDeliveries).toEqual([{ messageId: 'r1', channel: 'telegram' }]);
    const fallback = conversation([started, askedByApi])
      .when({ type: 'RecordAgentReplyFailed', inReplyTo: 'u2', reason: 'gateway timed out', fallback: { messageId: 'r1', channel: 'api', text: 'Sorry' }, at })
      .then([
        { type: 'AgentReplyFailed', data: { inReplyTo: 'u2', reason: 'gateway timed out', at } },
        { type: 'MessagePosted', data: { messageId: 'r1', role: 'agent', channel: 'telegram', text: 'Sorry', external: null, inReplyTo: 'u2', at } },
      ]);
    expect(fallback.status === 'open' && fallback.pendingDeliveries).toEqual([{ messageId: 'r1', channel: 'telegram' }]);
  });

  it('a delay is recorded', () => {
    conversation([started, asked])
      .when({ type: 'RecordAgentReplyDelayed', inReplyTo: 'u1', reason: 'no bridge', at })
      .then([{ type: 'AgentReplyDelayed', data: { inReplyTo: 'u1', reason: 'no bridge', at } }]);
  });

  it('MessagePosted v1 (stored before replies and bot origins existed) reads as v2 with inReplyTo and external null', () => {
    const entry = conversationCatalog.entry('MessagePosted')!;
    expect(entry.storedName).toBe('MessagePosted.v2');
    const v1 = { messageId: 'm1', role: 'user', channel: 'api', text: 'old', at };
    expect(conversationCatalog.parse(entry, 1, v1)).toEqual({ type: 'MessagePosted', data: { ...v1, external: null, inReplyTo: null } });
  });
});

const tenant = spec(tenantDecider).given;
const created: TenantEvent = { type: 'TenantCreated', data: { tenantId, name: 'Acme', email: null, tier: 'pro', at } };
const vmReady: TenantEvent[] = [
  { type: 'AgentVmRequested', data: { requestId: 'agent-1', at } },
  { type: 'AgentVmReady', data: { requestId: 'agent-1', vmId: 'vm-1', bridgeTokenHash: 'sha256:0123456789abcdef0123', at } },
];

describe("the tenant's gateway and bridge token", () => {
  it('connects a gateway (a repeat changes nothing) and refuses a bad url', () => {
    const connect: TenantCommand = { type: 'ConnectAgentGateway', url: 'https://gw.example/', token: 'tok', at };
    const state = tenant([created]).when(connect).then([{ type: 'AgentGatewayConnected', data: { url: 'https://gw.example', token: 'tok', at } }]);
    expect(state.status === 'active' && state.agentGateway).toEqual({ url: 'https://gw.example', token: 'tok' });
    tenant([created, { type: 'AgentGatewayConnected', data: { url: 'https://gw.example', token: 'tok', at } }]).when(connect).thenNothing();
    for (const url of ['ftp://gw.example', 'https://u:p@gw.example', 'not a url'])
      tenant([created]).when({ ...connect, url }).thenThrows('invalid_gateway_url');
  });

  it('revokes the current bridge token once; without one there is nothing to revoke', () => {
    const revoke: TenantCommand = { type: 'RevokeBridgeToken', reason: 'vm compromised', at };
    const state = tenant([created, ...vmReady]).when(revoke).then([
      { type: 'BridgeTokenRevoked', data: { bridgeTokenHash: 'sha256:0123456789abcdef0123', reason: 'vm compromised', at } },
    ]);
    expect(state.status === 'active' && [state.agentVm, state.revokedBridgeTokens]).toEqual([
      { status: 'ready', requestId: 'agent-1', vmId: 'vm-1', bridgeTokenHash: null },
      ['sha256:0123456789abcdef0123'],
    ]);
    tenant([created, ...vmReady, { type: 'BridgeTokenRevoked', data: { bridgeTokenHash: 'sha256:0123456789abcdef0123', reason: 'x', at } }])
      .when(revoke)
      .thenNothing();
    tenant([created]).when(revoke).thenThrows('no_bridge_token');
  });
});
