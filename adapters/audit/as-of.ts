import { conversationDecider, knightDecider, tenantDecider } from '../../domain/index.ts';
import type { ConversationState, KnightState, TenantState } from '../../domain/index.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { parseStreamId } from '../../domain/shared/streams.ts';
import { logPages } from './lines.ts';

export type AsOf = { readonly position: bigint } | { readonly time: Date };

export interface TenantStateAsOf {
  readonly tenantId: string;
  readonly asOf: { readonly position: string } | { readonly time: string };
  /** The newest event folded in (undefined: the tenant had no event yet). */
  readonly lastEvent: { readonly position: string; readonly recordedAt: string } | undefined;
  /** The point lies beyond the log's newest event: this is the current state. */
  readonly future: boolean;
  readonly events: number;
  readonly tenant: TenantState;
  readonly conversations: Readonly<Record<string, ConversationState>>;
  readonly knights: Readonly<Record<string, KnightState>>;
}

/**
 * A tenant's aggregates as they stood at a log position or a time, folded from the log with the
 * deciders' own `evolve` (not read from projections). Personal fields decrypted, secrets masked
 * (`view`). A stream stops at its first event past the point, so its state is a prefix of its history.
 */
export const tenantStateAsOf = async (deps: { store: EventStore; codec: EventCodec; now?: () => Date }, tenantId: string, asOf: AsOf): Promise<TenantStateAsOf> => {
  const head = await deps.store.headPosition();
  const within = (e: RecordedEvent) => ('position' in asOf ? e.position <= asOf.position : e.recordedAt.getTime() <= asOf.time.getTime());
  const future = 'position' in asOf ? head === undefined || asOf.position > head : asOf.time.getTime() > (deps.now ?? (() => new Date()))().getTime();
  let tenant = tenantDecider.initialState();
  const conversations = new Map<string, ConversationState>();
  const knights = new Map<string, KnightState>();
  const stopped = new Set<string>();
  let last: RecordedEvent | undefined;
  let events = 0;
  for await (const page of logPages(deps.store, { tenantId, ...('position' in asOf ? { to: asOf.position } : {}) })) {
    const folded = page.filter((e) => {
      if (stopped.has(e.streamId)) return false;
      if (within(e)) return true;
      stopped.add(e.streamId);
      return false;
    });
    const of = (category: string) => folded.filter((e) => parseStreamId(e.streamId).category === category);
    for (const event of await deps.codec.decodeStream('tenant', of('tenant'), 'view')) tenant = tenantDecider.evolve(tenant, event);
    for (const event of await deps.codec.decodeStream('conversation', of('conversation'), 'view')) {
      const id = parseStreamId(event.streamId).entityId ?? '';
      conversations.set(id, conversationDecider.evolve(conversations.get(id) ?? conversationDecider.initialState(), event));
    }
    for (const event of await deps.codec.decodeStream('knight', of('knight'), 'view')) {
      const id = parseStreamId(event.streamId).entityId ?? '';
      knights.set(id, knightDecider.evolve(knights.get(id) ?? knightDecider.initialState(), event));
    }
    events += folded.length;
    if (folded.length > 0) last = folded[folded.length - 1];
  }
  return {
    tenantId,
    asOf: 'position' in asOf ? { position: String(asOf.position) } : { time: asOf.time.toISOString() },
    lastEvent: last ? { position: String(last.position), recordedAt: last.recordedAt.toISOString() } : undefined,
    future,
    events,
    tenant,
    conversations: Object.fromEntries(conversations),
    knights: Object.fromEntries(knights),
  };
};
