import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conversationDecider } from '../../domain/conversation/index.ts';
import type { ConversationCommand, ConversationEvent, ConversationState } from '../../domain/conversation/index.ts';
import { asConversationId, asTenantId } from '../../domain/shared/ids.ts';
import type { TenantFacts } from '../../domain/tenant/index.ts';

const at = '2025-03-01T10:00:00.000Z';
const active: TenantFacts = { status: 'active', tier: 'enterprise' };
const started: ConversationEvent = {
  type: 'ConversationStarted',
  data: { conversationId: asConversationId('c-1'), tenantId: asTenantId('acme'), channel: 'telegram', externalChatId: '42', title: null, at },
};

/** Runs commands through the decider as the shell would, returning every event appended. */
const run = (commands: readonly ConversationCommand[]) => {
  let state: ConversationState = conversationDecider.evolve(conversationDecider.initialState(), started);
  const events: ConversationEvent[] = [];
  for (const command of commands)
    for (const event of conversationDecider.decide(command, state)) {
      events.push(event);
      state = conversationDecider.evolve(state, event);
    }
  return { state, events };
};

const inbound = (order: number): ConversationCommand => ({
  type: 'PostMessage',
  messageId: `tg-${order}`,
  role: 'user',
  channel: 'telegram',
  text: `update ${order}`,
  tenant: active,
  messagesToday: 0,
  external: { messageId: String(order), order },
  at,
});
const agent = (id: string): ConversationCommand => ({
  type: 'PostMessage', messageId: id, role: 'agent', channel: 'api', text: 'an answer', tenant: active, messagesToday: 0, at,
});

const placeOf = (e: ConversationEvent): number => (e.type === 'MessagePosted' ? Number(e.data.external?.seq ?? NaN) : NaN);

describe('bot users’ messages in their chat’s order', () => {
  it('given updates in any order, each lands in the history in the order of its update_id', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...Array(60).keys()], { minLength: 60 }), (orders) => {
        const { events } = run(orders.map(inbound));
        const byOrder = [...events].sort((a, b) => placeOf(a) - placeOf(b));
        expect(byOrder.map((e) => (e.type === 'MessagePosted' ? e.data.external?.order : -1))).toEqual([...Array(60).keys()]);
        // decimals compare exactly in PostgreSQL; here, at least, they are distinct
        expect(new Set(events.map((e) => (e.type === 'MessagePosted' ? e.data.external?.seq : ''))).size).toBe(60);
      }),
      { numRuns: 50 },
    );
  });

  it('a late message goes before the later one it missed, after the agent answer that preceded that one', () => {
    const { events } = run([inbound(1), agent('a1'), inbound(3), inbound(2)]);
    const seqs = events.map((e) => (e.type === 'MessagePosted' ? (e.data.external?.seq ?? `rev`) : ''));
    expect(seqs).toEqual(['1', 'rev', '3', '2.5']);
  });

  it('an agent answer in a Telegram conversation goes out on Telegram, however it was posted', () => {
    const { events, state } = run([inbound(1), agent('a1')]);
    expect(events[1]).toMatchObject({ type: 'MessagePosted', data: { channel: 'telegram', role: 'agent', external: null } });
    expect(state.status !== 'none' && state.pendingDeliveries).toEqual([{ messageId: 'a1', channel: 'telegram' }]);
  });

  it('a status report names our message when its platform id was delivered here', () => {
    const { events } = run([
      inbound(1),
      agent('a1'),
      { type: 'RecordMessageDelivered', messageId: 'a1', channel: 'telegram', externalMessageIds: ['w1', 'w2'], unconfirmedParts: 0, at },
      { type: 'RecordMessageStatus', externalMessageId: 'w2', status: 'read', errorCode: null, at },
      { type: 'RecordMessageStatus', externalMessageId: 'elsewhere', status: 'read', errorCode: null, at },
    ]);
    expect(events.slice(3).map((e) => e.data)).toEqual([
      { messageId: 'a1', externalMessageId: 'w2', status: 'read', errorCode: null, at },
      { messageId: null, externalMessageId: 'elsewhere', status: 'read', errorCode: null, at },
    ]);
  });
});
