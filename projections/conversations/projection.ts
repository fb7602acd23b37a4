import type { Projection } from '../shared/projection.ts';
import { atOf, streamOf } from '../shared/stream.ts';

export const conversationsProjection: Projection = {
  name: 'conversations',
  tables: [
    {
      name: 'conversations',
      columns: {
        conversation_id: 'text',
        channel: 'text',
        external_chat_id: 'text',
        title: 'text',
        status: 'text',
        message_count: 'integer',
        last_message_at: 'timestamptz',
        created_at: 'timestamptz',
        created_position: 'bigint',
      },
      primaryKey: ['tenant_id', 'conversation_id'],
      indexes: [['tenant_id', 'created_position DESC']],
    },
  ],
  reducers: [
    {
      table: 'conversations',
      handles: ['ConversationStarted', 'MessagePosted', 'ConversationClosed'],
      key: (event) => {
        const { tenantId, entityId } = streamOf(event);
        return { tenant_id: tenantId, conversation_id: entityId };
      },
      apply: (row, event) => {
        const { tenantId, entityId } = streamOf(event);
        if (event.type === 'ConversationStarted') {
          const d = event.data;
          return {
            tenant_id: tenantId,
            conversation_id: entityId,
            channel: d.channel,
            external_chat_id: d.externalChatId,
            title: d.title,
            status: 'open',
            message_count: 0,
            last_message_at: null,
            created_at: atOf(event),
            created_position: String(event.position),
          };
        }
        if (!row) return undefined;
        if (event.type === 'MessagePosted')
          return { ...row, message_count: Number(row.message_count) + 1, last_message_at: event.data.at };
        if (event.type === 'ConversationClosed') return { ...row, status: 'closed' };
        return undefined;
      },
      loadsRow: (event) => event.type !== 'ConversationStarted',
    },
  ],
};
