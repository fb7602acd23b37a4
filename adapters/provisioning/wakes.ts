import type { CommandShell } from '../../commands/shell/handle-command.ts';
import type { Decoded } from '../../domain/events.ts';
import { knightDecider, knightsEndedByTierChange } from '../../domain/knight/index.ts';
import type { KnightSpec } from '../../domain/knight/index.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { knightStream, parseStreamId } from '../../domain/shared/streams.ts';
import type { Tier } from '../../domain/tiers.ts';
import { SAGA_ACTOR } from './step.ts';

export interface LiveKnight {
  readonly knightId: string;
  readonly status: 'live' | 'failed' | 'terminating';
  /** The computer it asked for (null if its request could not be read). */
  readonly spec: KnightSpec | null;
}

/**
 * Which provisioning jobs an event concerns: a knight's own events wake its job, a tenant's its
 * agent-VM job; suspension and erasure wake the tenant's knights too (their jobs then end them),
 * and a lower tier requests termination of the knights it does not allow (`knightsEndedByTierChange`).
 */
export const createWakeRules = (deps: { store: EventStore; codec: EventCodec; shell: CommandShell; clock: () => Date }) => {
  const ended = new Set(deps.codec.storedTypes('KnightTerminated'));
  const ending = new Set(deps.codec.storedTypes('KnightTerminationRequested'));
  const failing = new Set(deps.codec.storedTypes('KnightFailed'));
  const requested = new Set(deps.codec.storedTypes('KnightRequested'));

  const specOf = async (e: RecordedEvent): Promise<KnightSpec | null> => {
    const [decoded] = await deps.codec.decodeStream('knight', [e], 'stored');
    return decoded?.type === 'KnightRequested' ? decoded.data.spec : null;
  };

  /** A tenant's knights not terminated yet, newest first, from the log itself: the read models trail it, and erasure purges them. */
  const liveKnights = async (tenantId: string, options: { specs?: boolean } = {}): Promise<LiveKnight[]> => {
    const knights = new Map<string, { first: bigint; status: LiveKnight['status'] | 'terminated'; spec: KnightSpec | null }>();
    for (let after: bigint | undefined; ; ) {
      const page = await deps.store.readAll({ ...(after === undefined ? {} : { after }), filter: { tenantId, categories: ['knight'] }, maxCount: 1_000 });
      if (page.length === 0) break;
      for (const e of page) {
        const k = knights.get(e.streamId) ?? { first: e.position, status: 'live' as const, spec: null };
        const status = ended.has(e.type) ? 'terminated' : ending.has(e.type) ? 'terminating' : failing.has(e.type) && k.status === 'live' ? 'failed' : k.status;
        const spec = options.specs && requested.has(e.type) ? await specOf(e) : k.spec;
        knights.set(e.streamId, { first: k.first, status, spec });
      }
      after = page[page.length - 1]!.position;
    }
    return [...knights]
      .sort(([, a], [, b]) => (a.first < b.first ? 1 : -1))
      .flatMap(([streamId, k]) => (k.status === 'terminated' ? [] : [{ knightId: parseStreamId(streamId).entityId!, status: k.status, spec: k.spec }]));
  };

  /** A lower tier ends its failed knights, those larger than it allows, then the newest beyond its knights-at-once. */
  const downgraded = async (tenantId: string, data: { readonly from: Tier; readonly to: Tier }): Promise<string[]> => {
    const beyond = knightsEndedByTierChange(await liveKnights(tenantId, { specs: true }), data.from, data.to);
    for (const { knightId, reason } of beyond)
      await deps.shell.handle(knightDecider, {
        streamId: knightStream(tenantId as never, knightId as never),
        command: { type: 'RequestKnightTermination', reason, at: deps.clock().toISOString() },
        metadata: { tenantId, actor: SAGA_ACTOR, correlationId: `saga:tier:${tenantId}`, causationId: null },
      });
    return beyond.map((k) => knightStream(tenantId as never, k.knightId as never));
  };

  return async (event: Decoded): Promise<string[]> => {
    const { category, tenantId } = parseStreamId(event.streamId);
    if (category === 'knight') return [event.streamId];
    switch (event.type) {
      case 'TenantSuspended':
      case 'TenantErased':
        return [event.streamId, ...(await liveKnights(tenantId)).map((k) => knightStream(tenantId, k.knightId as never))];
      case 'TenantTierChanged':
        return downgraded(tenantId, event.data);
      default:
        return [event.streamId];
    }
  };
};
