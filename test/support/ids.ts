import { randomUUID } from 'node:crypto';
import type { EventMetadata, NewEvent } from '../../domain/ports/event-store.ts';

let counter = 0;
const runTag = Math.random().toString(36).slice(2, 8);

/** A tenant id no other test (or earlier run against a persistent server) uses. */
export const uniqueTenant = (prefix = 't'): string => `${prefix}${runTag}-${(counter++).toString(36)}`;

export const meta = (tenantId: string, extra: Partial<EventMetadata> = {}): EventMetadata => ({
  tenantId,
  actor: 'test',
  correlationId: randomUUID(),
  causationId: null,
  ...extra,
});

export const newEvent = (tenantId: string, type = 'TestHappened', data: unknown = {}, id = randomUUID()): NewEvent => ({
  id,
  type,
  data,
  metadata: meta(tenantId),
});
