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

const placeText = (e: ConversationEvent): string => (e.type === 'MessagePosted' ? (e.data.external?.seq ?? '') : '');
/** Exact order of two decimal strings (as PostgreSQL's numeric), beyond what a float can tell apart. */
const compareDecimals = (a: string, b: string): number => {
  const [aw = '', af = ''] = a.split('.');
  const [bw = '', bf = ''] = b.split('.');
  if (BigInt(aw) !== BigInt(bw)) return BigInt(aw) < BigInt(bw) ? -1 : 1;
  const width = Math.max(af.length, bf.length);
  return af.padEnd(width, '0') < bf.padEnd(width, '0') ? -1 : af.padEnd(width, '0') > bf.padEnd(width, '0') ? 1 : 0;
};
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

  it('hundreds of late messages, each older than the one before, keep their order within the digits the event schema allows; past them one takes its own revision, never a refused event', () => {
    const orders = [10_000, ...Array.from({ length: 900 }, (_, i) => 9_999 - i)];
    const { events } = run(orders.map(inbound));
    const seqs = events.map((e) => (e.type === 'MessagePosted' ? e.data.external!.seq : ''));
    // the bound of adapters/codec/schemas/conversation.ts: more digits and the event is refused (a 500 the platform retries for days)
    for (const seq of seqs) expect(seq).toMatch(/^\d{1,15}(\.\d{1,200})?$/);
    const inOrder = seqs.findIndex((seq) => !seq.includes('.')) === 0 ? seqs.slice(1).findIndex((seq) => !seq.includes('.')) : -1;
    const kept = inOrder === -1 ? seqs.length : inOrder + 1; // the first late message placed at its own revision, if any
    expect(kept).toBeGreaterThan(550); // the old midpoints ran out after about 200
    const placed = events.slice(0, kept);
    const byPlace = [...placed].sort((a, b) => compareDecimals(placeText(a), placeText(b)));
    expect(byPlace.map((e) => (e.type === 'MessagePosted' ? e.data.external?.order : -1))).toEqual([...orders.slice(0, kept)].sort((a, b) => a - b));
    // past the bound the late ones follow the one placed at its revision, in order among themselves; no two share a place
    expect(new Set(seqs).size).toBe(seqs.length);
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
