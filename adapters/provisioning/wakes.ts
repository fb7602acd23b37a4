import type { CommandShell } from '../../commands/shell/handle-command.ts';
import type { Decoded } from '../../domain/events.ts';
import { knightDecider } from '../../domain/knight/index.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { knightStream, parseStreamId } from '../../domain/shared/streams.ts';
import { TIER_LIMITS } from '../../domain/tiers.ts';
import type { Tier } from '../../domain/tiers.ts';
import { SAGA_ACTOR } from './step.ts';

export interface LiveKnight {
  readonly knightId: string;
  readonly status: 'live' | 'failed' | 'terminating';
}

/**
 * Which provisioning jobs an event concerns: a knight's own events wake its job, a tenant's its
 * agent-VM job; suspension and erasure wake the tenant's knights too (their jobs then end them),
 * and a lower tier requests termination of the newest knights beyond its limit.
 */
export const createWakeRules = (deps: { store: EventStore; codec: EventCodec; shell: CommandShell; clock: () => Date }) => {
  const ended = new Set(deps.codec.storedTypes('KnightTerminated'));
  const ending = new Set(deps.codec.storedTypes('KnightTerminationRequested'));
  const failing = new Set(deps.codec.storedTypes('KnightFailed'));

  /** A tenant's knights not terminated yet, newest first, from the log itself: the read models trail it, and erasure purges them. */
  const liveKnights = async (tenantId: string): Promise<LiveKnight[]> => {
    const knights = new Map<string, { first: bigint; status: LiveKnight['status'] | 'terminated' }>();
    for (let after: bigint | undefined; ; ) {
      const page = await deps.store.readAll({ ...(after === undefined ? {} : { after }), filter: { tenantId, categories: ['knight'] }, maxCount: 1_000 });
      if (page.length === 0) break;
      for (const e of page) {
        const k = knights.get(e.streamId) ?? { first: e.position, status: 'live' as const };
        const status = ended.has(e.type) ? 'terminated' : ending.has(e.type) ? 'terminating' : failing.has(e.type) && k.status === 'live' ? 'failed' : k.status;
        knights.set(e.streamId, { first: k.first, status });
      }
      after = page[page.length - 1]!.position;
    }
    return [...knights]
      .sort(([, a], [, b]) => (a.first < b.first ? 1 : -1))
      .flatMap(([streamId, k]) => (k.status === 'terminated' ? [] : [{ knightId: parseStreamId(streamId).entityId!, status: k.status }]));
  };

  /** A lower tier ends the knights beyond its limit: failed ones first (they do no work but count), then the newest. */
  const downgraded = async (tenantId: string, data: { readonly from: Tier; readonly to: Tier }): Promise<string[]> => {
    const limit = TIER_LIMITS[data.to].knightsAtOnce;
    if (limit >= TIER_LIMITS[data.from].knightsAtOnce) return [];
    // knights already terminating are on their way out: only the others count against the limit
    const remaining = (await liveKnights(tenantId)).filter((k) => k.status !== 'terminating');
    const live = [...remaining.filter((k) => k.status === 'failed'), ...remaining.filter((k) => k.status !== 'failed')];
    const beyond = live.slice(0, Math.max(0, live.length - limit));
    const reason = `the ${data.to} tier allows ${limit} knight${limit === 1 ? '' : 's'} at once`;
    for (const k of beyond)
      await deps.shell.handle(knightDecider, {
        streamId: knightStream(tenantId as never, k.knightId as never),
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
