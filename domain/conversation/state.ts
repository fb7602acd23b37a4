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
  'messageCount' | 'userMessageCount' | 'recentMessageIds' | 'pendingDeliveries' | 'settledDeliveries'
>;

/**
 * The same conversation with new tallies, built from named fields: `{ ...state, field }` (a spread
 * that overrides a key) was most of the cost of folding a 100,000-event stream.
 */
const withTally = (c: ExistingConversation, tally: Tally): ExistingConversation => {
  const { conversationId, tenantId, channel, externalChatId, title } = c;
  const { messageCount, userMessageCount, recentMessageIds, pendingDeliveries, settledDeliveries } = tally;
  const record = { conversationId, tenantId, channel, externalChatId, title, messageCount, userMessageCount };
  return c.status === 'open'
    ? { status: 'open', ...record, recentMessageIds, pendingDeliveries, settledDeliveries }
    : { status: 'closed', ...record, recentMessageIds, pendingDeliveries, settledDeliveries, closedReason: c.closedReason };
};

const settle = (c: ExistingConversation, messageId: string): ExistingConversation =>
  withTally(c, {
    messageCount: c.messageCount,
    userMessageCount: c.userMessageCount,
    recentMessageIds: c.recentMessageIds,
    pendingDeliveries: c.pendingDeliveries.filter((p) => p.messageId !== messageId),
    settledDeliveries: windowPush(c.settledDeliveries, messageId, RECENT_SETTLED_DELIVERIES),
  });

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
      };
    }
    case 'MessagePosted': {
      const { messageId, role, channel } = event.data;
      const awaitsDelivery = role !== 'user' && channel !== 'api';
      if (state.status === 'none') return state;
      return withTally(state, {
        messageCount: state.messageCount + 1,
        userMessageCount: state.userMessageCount + (role === 'user' ? 1 : 0),
        recentMessageIds: windowPush(state.recentMessageIds, messageId, RECENT_MESSAGE_IDS),
        pendingDeliveries: awaitsDelivery ? pushPending(state.pendingDeliveries, { messageId, channel }) : state.pendingDeliveries,
        settledDeliveries: state.settledDeliveries,
      });
    }
    case 'MessageDelivered':
      return state.status === 'none' ? state : settle(state, event.data.messageId);
    case 'MessageDeliveryFailed':
      return state.status === 'none' || event.data.retryable ? state : settle(state, event.data.messageId);
    case 'ConversationClosed':
      return state.status === 'none' ? state : { ...state, status: 'closed', closedReason: event.data.reason };
    case 'AgentReplyDelayed':
    case 'AgentReplyFailed':
      return state;
    default:
      return unreachable(event);
  }
};
