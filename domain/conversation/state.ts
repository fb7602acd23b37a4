import { unreachable } from '../shared/decider.ts';
import type { ConversationId, TenantId } from '../shared/ids.ts';
import type { Channel, ConversationEvent } from './events.ts';
import { emptyWindow, windowPush } from './window.ts';
import type { IdWindow } from './window.ts';

/**
 * The state stays bounded however long the stream grows: counters, a window of recent message
 * ids for repeat detection, the deliveries still outstanding and a window of settled ones.
 */
export const RECENT_MESSAGE_IDS = 256;
export const MAX_PENDING_DELIVERIES = 256;
export const RECENT_SETTLED_DELIVERIES = 256;

/** Recent bot users' messages: their ordering key and place in the history, to place a late one between. */
export const RECENT_INBOUND = 64;
/** Recent deliveries' platform ids, so a status report finds our message. */
export const RECENT_EXTERNAL_IDS = 256;

export interface InboundPlace {
  readonly order: number;
  readonly seq: string;
}

export interface PendingDelivery {
  readonly messageId: string;
  readonly channel: Channel;
}

export interface ConversationRecord {
  readonly conversationId: ConversationId;
  readonly tenantId: TenantId;
  readonly channel: Channel;
  readonly externalChatId: string | null;
  readonly title: string | null;
  readonly messageCount: number;
  readonly userMessageCount: number;
  /** At least the RECENT_MESSAGE_IDS newest message ids. */
  readonly recentMessageIds: IdWindow;
  /** Agent and system messages on an external channel not yet delivered or given up on; oldest first. */
  readonly pendingDeliveries: readonly PendingDelivery[];
  /** At least the RECENT_SETTLED_DELIVERIES newest messages recorded as delivered or permanently failed. */
  readonly settledDeliveries: IdWindow;
  /** The revision of the last event folded (ConversationStarted is 0). */
  readonly revision: number;
  /** The RECENT_INBOUND newest bot users' messages by arrival. */
  readonly inbound: readonly InboundPlace[];
  /** When the bot user's last message was posted (WhatsApp's 24-hour window). */
  readonly lastInboundAt: string | null;
  /** Platform id → our message id, for the RECENT_EXTERNAL_IDS newest delivered parts. */
  readonly externalIds: readonly (readonly [string, string])[];
}

export type OpenConversation = ConversationRecord & { readonly status: 'open' };
export type ClosedConversation = ConversationRecord & { readonly status: 'closed'; readonly closedReason: string };
export type ExistingConversation = OpenConversation | ClosedConversation;
export type ConversationState = { readonly status: 'none' } | ExistingConversation;

export const initialConversationState = (): ConversationState => ({ status: 'none' });

/** Pending deliveries beyond this many are dropped oldest first: a delivery that late is not coming. */
const pushPending = (list: readonly PendingDelivery[], item: PendingDelivery): readonly PendingDelivery[] => {
  const next = list.slice(list.length < MAX_PENDING_DELIVERIES ? 0 : list.length - MAX_PENDING_DELIVERIES + 1);
  next.push(item);
  return next;
};

type Tally = Pick<
  ConversationRecord,
  | 'messageCount'
  | 'userMessageCount'
  | 'recentMessageIds'
  | 'pendingDeliveries'
  | 'settledDeliveries'
  | 'revision'
  | 'inbound'
  | 'lastInboundAt'
  | 'externalIds'
>;

/**
 * The same conversation with new tallies, built from named fields: `{ ...state, field }` (a spread
 * that overrides a key) was most of the cost of folding a 100,000-event stream.
 */
const withTally = (c: ExistingConversation, tally: Tally): ExistingConversation => {
  const { conversationId, tenantId, channel, externalChatId, title } = c;
  const { messageCount, userMessageCount, recentMessageIds, pendingDeliveries, settledDeliveries } = tally;
  const { revision, inbound, lastInboundAt, externalIds } = tally;
  const record = { conversationId, tenantId, channel, externalChatId, title, messageCount, userMessageCount };
  const windows = { recentMessageIds, pendingDeliveries, settledDeliveries, revision, inbound, lastInboundAt, externalIds };
  return c.status === 'open' ? { status: 'open', ...record, ...windows } : { status: 'closed', ...record, ...windows, closedReason: c.closedReason };
};

const tallyOf = (c: ExistingConversation): Tally => ({
  messageCount: c.messageCount,
  userMessageCount: c.userMessageCount,
  recentMessageIds: c.recentMessageIds,
  pendingDeliveries: c.pendingDeliveries,
  settledDeliveries: c.settledDeliveries,
  revision: c.revision + 1,
  inbound: c.inbound,
  lastInboundAt: c.lastInboundAt,
  externalIds: c.externalIds,
});

const settle = (c: ExistingConversation, messageId: string, externalIds: readonly string[] = []): ExistingConversation => {
  const tally = tallyOf(c);
  const added = externalIds.map((id) => [id, messageId] as const);
  return withTally(c, {
    ...tally,
    pendingDeliveries: c.pendingDeliveries.filter((p) => p.messageId !== messageId),
    settledDeliveries: windowPush(c.settledDeliveries, messageId, RECENT_SETTLED_DELIVERIES),
    externalIds: added.length === 0 ? c.externalIds : [...c.externalIds, ...added].slice(-RECENT_EXTERNAL_IDS),
  });
};

const counted = (c: ExistingConversation): ExistingConversation => withTally(c, tallyOf(c));

export const evolveConversation = (state: ConversationState, event: ConversationEvent): ConversationState => {
  switch (event.type) {
    case 'ConversationStarted': {
      if (state.status !== 'none') return state;
      const { conversationId, tenantId, channel, externalChatId, title } = event.data;
      return {
        status: 'open',
        conversationId,
        tenantId,
        channel,
        externalChatId,
        title,
        messageCount: 0,
        userMessageCount: 0,
        recentMessageIds: emptyWindow,
        pendingDeliveries: [],
        settledDeliveries: emptyWindow,
        revision: 0,
        inbound: [],
        lastInboundAt: null,
        externalIds: [],
      };
    }
    case 'MessagePosted': {
      const { messageId, role, channel, external } = event.data;
      const awaitsDelivery = role !== 'user' && channel !== 'api';
      if (state.status === 'none') return state;
      const tally = tallyOf(state);
      return withTally(state, {
        ...tally,
        messageCount: state.messageCount + 1,
        userMessageCount: state.userMessageCount + (role === 'user' ? 1 : 0),
        recentMessageIds: windowPush(state.recentMessageIds, messageId, RECENT_MESSAGE_IDS),
        pendingDeliveries: awaitsDelivery ? pushPending(state.pendingDeliveries, { messageId, channel }) : state.pendingDeliveries,
        inbound: external ? [...state.inbound, { order: external.order, seq: external.seq }].slice(-RECENT_INBOUND) : state.inbound,
        lastInboundAt: role === 'user' && channel !== 'api' ? event.data.at : state.lastInboundAt,
      });
    }
    case 'MessageDelivered':
      return state.status === 'none' ? state : settle(state, event.data.messageId, event.data.externalMessageIds);
    case 'MessageDeliveryFailed':
      if (state.status === 'none') return state;
      return event.data.retryable ? counted(state) : settle(state, event.data.messageId);
    case 'MessageStatusReported':
      return state.status === 'none' ? state : counted(state);
    case 'ConversationClosed':
      return state.status === 'none' ? state : { ...counted(state), status: 'closed', closedReason: event.data.reason };
    case 'AgentReplyDelayed':
    case 'AgentReplyFailed':
      return state.status === 'none' ? state : counted(state);
    default:
      return unreachable(event);
  }
};
