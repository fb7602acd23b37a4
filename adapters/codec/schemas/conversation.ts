import { z } from 'zod';
import { CHANNELS, MESSAGE_ROLES } from '../../../domain/conversation/events.ts';
import type { ConversationEvent } from '../../../domain/conversation/events.ts';
import { defineCatalog, instant, olderVersion } from '../catalog.ts';
import { conversationId, sealed, tenantId, token } from './common.ts';

const channel = z.enum(CHANNELS);
const at = instant;

export const conversationCatalog = defineCatalog<ConversationEvent>('conversation', {
  ConversationStarted: {
    schema: z.strictObject({ conversationId, tenantId, channel, externalChatId: sealed.nullable(), title: sealed.nullable(), at }),
    // a bot user's chat id identifies a person
    personal: ['externalChatId', 'title'],
  },
  MessagePosted: {
    schema: z.strictObject({ messageId: token, role: z.enum(MESSAGE_ROLES), channel, text: sealed, inReplyTo: token.nullable(), at }),
    personal: ['text'],
    // v1 answered nothing
    older: [
      olderVersion(z.strictObject({ messageId: token, role: z.enum(MESSAGE_ROLES), channel, text: sealed, at }), (v1) => ({ ...v1, inReplyTo: null })),
    ],
  },
  MessageDelivered: { schema: z.strictObject({ messageId: token, channel, externalMessageId: token, at }) },
  MessageDeliveryFailed: {
    schema: z.strictObject({ messageId: token, channel, reason: z.string().max(2000), retryable: z.boolean(), at }),
  },
  ConversationClosed: { schema: z.strictObject({ reason: sealed, at }), personal: ['reason'] },
  AgentReplyDelayed: { schema: z.strictObject({ inReplyTo: token, reason: z.string().max(500), at }) },
  AgentReplyFailed: { schema: z.strictObject({ inReplyTo: token, reason: z.string().max(2000), at }) },
});
