import type { Projection } from '../shared/projection.ts';
import { atOf, streamOf } from '../shared/stream.ts';

/**
 * Usage: user messages per tenant per UTC day (the daily quota), and each knight's VM time
 * (provisioned → terminated, or → now while it runs) for knight-minutes.
 */
export const usageProjection: Projection = {
  name: 'usage',
  tables: [
    { name: 'usage_daily', columns: { day: 'date', messages: 'integer' }, primaryKey: ['tenant_id', 'day'] },
    {
      name: 'knight_usage',
      columns: { knight_id: 'text', started_at: 'timestamptz', ended_at: 'timestamptz' },
      primaryKey: ['tenant_id', 'knight_id'],
    },
  ],
  reducers: [
    {
      table: 'usage_daily',
      handles: ['MessagePosted'],
      key: (event) => {
        if (event.type !== 'MessagePosted' || event.data.role !== 'user') return undefined;
        return { tenant_id: streamOf(event).tenantId, day: atOf(event).slice(0, 10) };
      },
      apply: (row, event) => ({
        tenant_id: streamOf(event).tenantId,
        day: atOf(event).slice(0, 10),
        messages: Number(row?.messages ?? 0) + 1,
      }),
    },
    {
      table: 'knight_usage',
      handles: ['KnightProvisioned', 'KnightTerminated', 'KnightFailed'],
      key: (event) => {
        const { tenantId, entityId } = streamOf(event);
        return { tenant_id: tenantId, knight_id: entityId };
      },
      apply: (row, event) => {
        const { tenantId, entityId } = streamOf(event);
        if (event.type === 'KnightProvisioned')
          return row ? undefined : { tenant_id: tenantId, knight_id: entityId, started_at: atOf(event), ended_at: null };
        if (!row || row.ended_at) return undefined;
        return { ...row, ended_at: atOf(event) };
      },
    },
  ],
};
