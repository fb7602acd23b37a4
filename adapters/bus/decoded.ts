import type { AnyEvent, Decoded, EventType } from '../../domain/events.ts';
import type { Bus, BusSubscription, ConsumeOptions } from '../../domain/ports/bus.ts';
import type { DecodeMode, EventCodec } from '../../domain/ports/codec.ts';
import type { Category } from '../../domain/shared/streams.ts';
import { observeConsumer } from '../telemetry/consumers.ts';

export interface DecodedConsumeOptions extends Omit<ConsumeOptions, 'filter'> {
  readonly tenantId?: string;
  readonly categories?: readonly Category[];
  /** Event types by their current names: each also matches the names its older versions were stored under. */
  readonly eventTypes?: readonly EventType[];
  /** What the handler needs decrypted (see DecodeMode); `stored` when it only reads ids and types. */
  readonly decode: DecodeMode;
}

export type DecodedHandler<E extends AnyEvent = AnyEvent> = (events: readonly Decoded<E>[]) => Promise<void> | void;

/**
 * A bus consumer that gets typed events. Both buses move events as stored (ciphertext stays
 * ciphertext on the wire); each consumer decodes what it reads, with the mode it needs. An event
 * that cannot be decoded fails the handler like any other error: retried, then dead-lettered with
 * its error, never blocking the events after it.
 */
export const consumeDecoded = (
  bus: Bus,
  codec: EventCodec,
  consumer: string,
  options: DecodedConsumeOptions,
  handler: DecodedHandler,
): Promise<BusSubscription> => {
  const { tenantId, categories, eventTypes, decode, ...consume } = options;
  const filter = {
    ...(tenantId === undefined ? {} : { tenantId }),
    ...(categories === undefined ? {} : { categories }),
    ...(eventTypes === undefined ? {} : { eventTypes: eventTypes.flatMap((type) => codec.storedTypes(type)) }),
  };
  const observed = observeConsumer(bus, consumer, consume.mode);
  return observed.track(bus.consume(consumer, { ...consume, filter }, observed.handler(async (events) => handler(await codec.decode(events, decode)))));
};
