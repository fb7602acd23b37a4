import type { Projection, Row } from '../shared/projection.ts';
import { atOf, streamOf } from '../shared/stream.ts';

/**
 * Message history. `seq` is the event's revision in its conversation stream; `chat_seq` is the
 * message's place in the history: the same revision, or for a bot user's message the place the
 * domain gave it (a decimal between its neighbours when it arrived after a later one of its chat,
 * see domain/conversation/place.ts). The history is ordered and paged by `chat_seq` (then `seq`,
 * for rows projected before the column existed).
 */
/** What a platform's status report makes of the row's delivery column ('sent' adds nothing to 'delivered'). */
const STATUS_DELIVERY: Readonly<Record<string, string | undefined>> = { delivered: 'delivered', read: 'read', failed: 'failed' };

/**
 * The delivery column only moves forward: pending/none < delivered < read < failed. Platforms send
 * statuses out of order (a late or redelivered `delivered` after `read`), so the column is the highest
 * state seen, whatever the arrival order — the same on every replay. `failed` is final: a message (or
 * one part of a split message) the platform or we gave up on stays failed, a `read` of another part
 * does not hide it.
 */
const DELIVERY_RANK: Readonly<Record<string, number | undefined>> = { none: 0, pending: 0, delivered: 1, read: 2, failed: 3 };
const advance = (row: Row, delivery: string) =>
  (DELIVERY_RANK[delivery] ?? 0) > (DELIVERY_RANK[String(row.delivery)] ?? 0) ? { ...row, delivery } : undefined;

export const messagesProjection: Projection = {
  name: 'messages',
  tables: [
    {
      name: 'messages',
      columns: {
        conversation_id: 'text',
        message_id: 'text',
        seq: 'integer',
        chat_seq: 'numeric',
        role: 'text',
        channel: 'text',
        text: 'text',
        delivery: 'text',
        in_reply_to: 'text',
        created_at: 'timestamptz',
      },
      primaryKey: ['tenant_id', 'conversation_id', 'message_id'],
      indexes: [['tenant_id', 'conversation_id', 'seq'], ['tenant_id', 'conversation_id', 'chat_seq']],
    },
  ],
  reducers: [
    {
      table: 'messages',
      handles: ['MessagePosted', 'MessageDelivered', 'MessageDeliveryFailed', 'MessageStatusReported'],
      key: (event) => {
        if (event.type !== 'MessagePosted' && event.type !== 'MessageDelivered' && event.type !== 'MessageDeliveryFailed' && event.type !== 'MessageStatusReported')
          return undefined;
        if (event.data.messageId === null) return undefined;
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
            chat_seq: d.external?.seq ?? String(event.revision),
            role: d.role,
            channel: d.channel,
            text: d.text,
            delivery: awaitsDelivery ? 'pending' : 'none',
            in_reply_to: d.inReplyTo,
            created_at: atOf(event),
          };
        }
        if (!row) return undefined;
        if (event.type === 'MessageDelivered') return advance(row, 'delivered');
        if (event.type === 'MessageStatusReported') {
          const delivery = STATUS_DELIVERY[event.data.status];
          return delivery ? advance(row, delivery) : undefined;
        }
        if (event.type === 'MessageDeliveryFailed') return event.data.retryable ? undefined : advance(row, 'failed');
        return undefined;
      },
      loadsRow: (event) => event.type !== 'MessagePosted',
    },
  ],
};
