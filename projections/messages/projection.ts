import type { Projection } from '../shared/projection.ts';
import { atOf, streamOf } from '../shared/stream.ts';

/**
 * Message history. `seq` is the event's revision in its conversation stream: gap-tolerant,
 * strictly increasing, so it orders and pages the history.
 */
export const messagesProjection: Projection = {
  name: 'messages',
  tables: [
    {
      name: 'messages',
      columns: {
        conversation_id: 'text',
        message_id: 'text',
        seq: 'integer',
        role: 'text',
        channel: 'text',
        text: 'text',
        delivery: 'text',
        in_reply_to: 'text',
        created_at: 'timestamptz',
      },
      primaryKey: ['tenant_id', 'conversation_id', 'message_id'],
      indexes: [['tenant_id', 'conversation_id', 'seq']],
    },
  ],
  reducers: [
    {
      table: 'messages',
      handles: ['MessagePosted', 'MessageDelivered', 'MessageDeliveryFailed'],
      key: (event) => {
        if (event.type !== 'MessagePosted' && event.type !== 'MessageDelivered' && event.type !== 'MessageDeliveryFailed') return undefined;
        const { tenantId, entityId } = streamOf(event);
        return { tenant_id: tenantId, conversation_id: entityId, message_id: event.data.messageId };
      },
      apply: (row, event) => {
        if (event.type === 'MessagePosted') {
          const d = event.data;
          const { tenantId, entityId } = streamOf(event);
          const awaitsDelivery = d.role !== 'user' && d.channel !== 'api';
          return {
            tenant_id: tenantId,
            conversation_id: entityId,
            message_id: d.messageId,
            seq: event.revision,
            role: d.role,
            channel: d.channel,
            text: d.text,
            delivery: awaitsDelivery ? 'pending' : 'none',
            in_reply_to: d.inReplyTo,
            created_at: atOf(event),
          };
        }
        if (!row) return undefined;
        if (event.type === 'MessageDelivered') return { ...row, delivery: 'delivered' };
        if (event.type === 'MessageDeliveryFailed') return event.data.retryable ? undefined : { ...row, delivery: 'failed' };
        return undefined;
      },
      loadsRow: (event) => event.type !== 'MessagePosted',
    },
  ],
};
