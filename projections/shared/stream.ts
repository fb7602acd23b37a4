import type { Decoded } from '../../domain/events.ts';
import { parseStreamId } from '../../domain/shared/streams.ts';

/** Tenant and entity id of the stream an event belongs to. */
export const streamOf = (event: Decoded): { tenantId: string; entityId: string } => {
  const name = parseStreamId(event.streamId);
  return { tenantId: name.tenantId, entityId: name.entityId ?? name.tenantId };
};

/** When the event happened, by the clock of the command that decided it. */
export const atOf = (event: Decoded): string => event.data.at;
