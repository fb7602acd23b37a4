import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { trackFailures } from './health.ts';
import type { LagSample } from './lag.ts';
import { watchLag } from './lag.ts';
import { countRelayed } from './metrics.ts';
import { inEventsSpan } from './tracing.ts';

/**
 * The relay's telemetry. Each message already carries its event's own traceparent (recorded by the
 * command that wrote it); kafkajs's instrumentation would replace it with a producer span of
 * whatever trace the batch runs in, so the send runs with tracing suppressed and the batch gets
 * one span of ours in the first event's trace instead.
 */
export const observeRelay = (topic: string, lag: () => Promise<Omit<LagSample, 'kind' | 'name'>>) => {
  const health = trackFailures(`relay:${topic}`);
  let unwatch: (() => void) | undefined;
  return {
    send: <T>(events: readonly RecordedEvent[], send: () => Promise<T>): Promise<T> =>
      inEventsSpan('relay batch', events, { 'messaging.destination.name': topic }, () => context.with(suppressTracing(context.active()), send)),
    relayed(events: number) {
      countRelayed(events);
      health.succeeded();
    },
    failed: (error: unknown) => health.failed(error),
    start() {
      unwatch ??= watchLag(async () => [{ kind: 'relay', name: topic, ...(await lag()) }]);
    },
    stop() {
      unwatch?.();
      unwatch = undefined;
      health.remove();
    },
  };
};
