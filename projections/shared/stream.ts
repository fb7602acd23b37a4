import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { parseStreamId } from '../../domain/shared/streams.ts';

/** Tenant and entity id of the stream an event belongs to. */
export const streamOf = (event: RecordedEvent): { tenantId: string; entityId: string } => {
  const name = parseStreamId(event.streamId);
  return { tenantId: name.tenantId, entityId: name.entityId ?? name.tenantId };
};

export const atOf = (event: RecordedEvent): string => {
  const at = (event.data as { at?: unknown } | null)?.at;
  return typeof at === 'string' ? at : event.recordedAt.toISOString();
};
