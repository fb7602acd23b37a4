import type { Decider } from './shared/decider.ts';
import type { Category } from './shared/streams.ts';
import type { BillingEvent } from './billing/events.ts';
import type { ConversationEvent } from './conversation/events.ts';
import type { KnightEvent } from './knight/events.ts';
import type { EventMetadata } from './ports/event-store.ts';
import type { TenantEvent } from './tenant/events.ts';

/** Which events each stream category holds. Event type names are unique across categories. */
export interface EventsByCategory {
  readonly tenant: TenantEvent;
  readonly conversation: ConversationEvent;
  readonly knight: KnightEvent;
  readonly billing: BillingEvent;
}

export type AnyEvent = EventsByCategory[Category];
export type EventType = AnyEvent['type'];
export type EventOfType<T extends EventType> = Extract<AnyEvent, { type: T }>;

/** A decider whose events are those of its stream category. */
export type AggregateDecider<K extends Category, Command, State> = Decider<Command, EventsByCategory[K], State, K>;

/** Where an event sits in the log: everything a stored event has besides its type and data. */
export interface EventEnvelope {
  readonly id: string;
  readonly streamId: string;
  readonly revision: number;
  readonly position: bigint;
  readonly metadata: EventMetadata;
  readonly recordedAt: Date;
}

/**
 * An event read back through the codec: validated, upcast to the current shape and typed, so a
 * `switch (event.type)` narrows `event.data`. Encrypted fields hold what the decode mode asked for.
 */
export type Decoded<E extends AnyEvent = AnyEvent> = E extends AnyEvent ? EventEnvelope & E : never;
