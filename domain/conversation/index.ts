import type { AggregateDecider } from '../events.ts';
import type { ConversationCommand } from './commands.ts';
import { decideConversation } from './decide.ts';
import { evolveConversation, initialConversationState } from './state.ts';
import type { ConversationState } from './state.ts';

export const conversationDecider: AggregateDecider<'conversation', ConversationCommand, ConversationState> = {
  category: 'conversation',
  initialState: initialConversationState,
  evolve: evolveConversation,
  decide: decideConversation,
};

export type * from './commands.ts';
export type * from './events.ts';
export type * from './state.ts';
export { CHANNELS, CONVERSATION_EVENT_TYPES, MESSAGE_ROLES, MESSAGE_STATUSES } from './events.ts';
export { placeInbound } from './place.ts';
export {
  evolveConversation,
  initialConversationState,
  MAX_PENDING_DELIVERIES,
  RECENT_MESSAGE_IDS,
  RECENT_SETTLED_DELIVERIES,
} from './state.ts';
export { decideConversation } from './decide.ts';
export { MAX_MESSAGE_TEXT } from './validate.ts';
export { emptyWindow, windowHas, windowIds, windowPush, windowSize } from './window.ts';
