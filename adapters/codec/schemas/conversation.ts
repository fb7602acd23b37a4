import { z } from 'zod';
import { CHANNELS, MESSAGE_ROLES, MESSAGE_STATUSES } from '../../../domain/conversation/events.ts';
import type { ConversationEvent } from '../../../domain/conversation/events.ts';
import { MAX_PLACE_DIGITS } from '../../../domain/conversation/place.ts';
import { defineCatalog, instant, olderVersion } from '../catalog.ts';
import { conversationId, sealed, tenantId, token } from './common.ts';

const channel = z.enum(CHANNELS);
const at = instant;
// a bot message's place (domain/conversation/place.ts keeps within the bound)
const decimal = z.string().regex(new RegExp(`^\\d{1,15}(\\.\\d{1,${MAX_PLACE_DIGITS}})?$`));

export const conversationCatalog = defineCatalog<ConversationEvent>('conversation', {
  ConversationStarted: {
    schema: z.strictObject({ conversationId, tenantId, channel, externalChatId: sealed.nullable(), title: sealed.nullable(), at }),
    // a bot user's chat id identifies a person
    personal: ['externalChatId', 'title'],
  },
  MessagePosted: {
    schema: z.strictObject({
      messageId: token,
      role: z.enum(MESSAGE_ROLES),
      channel,
      text: sealed,
      external: z.strictObject({ messageId: token, order: z.number().int().nonnegative(), seq: decimal }).nullable(),
      inReplyTo: token.nullable(),
      at,
    }),
    personal: ['text'],
    older: [
      // v1 had no platform origin and answered nothing
      olderVersion(
        z.strictObject({ messageId: token, role: z.enum(MESSAGE_ROLES), channel, text: sealed, at }),
        (v1) => ({ ...v1, external: null, inReplyTo: null }),
      ),
    ],
  },
  MessageDelivered: {
    schema: z.strictObject({
      messageId: token,
      channel,
      externalMessageIds: z.array(token).max(64),
      unconfirmedParts: z.number().int().min(0).max(64),
      at,
    }),
    // v1 had one platform id
    older: [
      olderVersion(z.strictObject({ messageId: token, channel, externalMessageId: token, at }), ({ externalMessageId, ...v1 }) => ({
        ...v1,
        externalMessageIds: [externalMessageId],
        unconfirmedParts: 0,
      })),
    ],
  },
  MessageStatusReported: {
    schema: z.strictObject({
      messageId: token.nullable(),
      externalMessageId: token,
      status: z.enum(MESSAGE_STATUSES),
      errorCode: z.number().int().nullable(),
      at,
    }),
  },
  MessageDeliveryFailed: {
    schema: z.strictObject({ messageId: token, channel, reason: z.string().max(2000), retryable: z.boolean(), at }),
  },
  ConversationClosed: { schema: z.strictObject({ reason: sealed, at }), personal: ['reason'] },
  AgentReplyDelayed: { schema: z.strictObject({ inReplyTo: token, reason: z.string().max(500), at }) },
  // the reason can quote the tenant's agent (its VM's or gateway's own error text): personal, as message text is
  AgentReplyFailed: { schema: z.strictObject({ inReplyTo: token, reason: sealed, at }), personal: ['reason'] },
});
