import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from './registry.ts';

/**
 * Every metric of the process, in one registry. Code that does the work calls the small
 * functions below (one line at the place); lags are measured when Prometheus scrapes, by the
 * sources registered with `watchLag`, so nothing polls between scrapes.
 */

const LATENCY = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SIZES = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

const commandSeconds = new Histogram({
  name: 'openclaw_command_duration_seconds',
  help: 'Command handling (read, fold, decide, append, retries) by command and outcome (ok, duplicate, noop, or the error code)',
  labelNames: ['command', 'outcome'] as const,
  buckets: LATENCY,
  registers: [registry],
});
const appendSeconds = new Histogram({
  name: 'openclaw_append_duration_seconds',
  help: 'One append to the event store, from the command shell',
  buckets: LATENCY,
  registers: [registry],
});
const appendEvents = new Histogram({
  name: 'openclaw_append_events',
  help: 'Events per append',
  buckets: SIZES,
  registers: [registry],
});
const projectorBatches = new Histogram({
  name: 'openclaw_projector_batch_events',
  help: 'Events per applied projector batch',
  labelNames: ['schema'] as const,
  buckets: SIZES,
  registers: [registry],
});
const projectorFailures = new Counter({
  name: 'openclaw_projector_failures_total',
  help: 'Projector batches that failed (kind=error: retried from the checkpoint; kind=halt: an undecodable event stopped it)',
  labelNames: ['schema', 'kind'] as const,
  registers: [registry],
});
const consumerEvents = new Counter({
  name: 'openclaw_consumer_events_total',
  help: 'Events a bus consumer handled (outcome=ok) or failed on (outcome=error; retried, then dead-lettered)',
  labelNames: ['consumer', 'outcome'] as const,
  registers: [registry],
});
const relayedEvents = new Counter({
  name: 'openclaw_relay_events_total',
  help: 'Events the relay produced to Kafka and the broker acknowledged',
  registers: [registry],
});
/** Open WebSocket connections; the WebSocket server sets it (inc on open, dec on close). */
export const websocketConnections = new Gauge({
  name: 'openclaw_websocket_connections',
  help: 'Open WebSocket connections',
  registers: [registry],
});
const sagaSteps = new Counter({
  name: 'openclaw_saga_steps_total',
  help: 'Decisions of the provisioning saga by action (Record, Wait, Done, or the Orgo call)',
  labelNames: ['action'] as const,
  registers: [registry],
});
const sagaFailures = new Counter({
  name: 'openclaw_saga_failures_total',
  help: 'Orgo calls of the provisioning saga that failed, by step',
  labelNames: ['during'] as const,
  registers: [registry],
});
const webhooks = new Counter({
  name: 'openclaw_webhook_requests_total',
  help: 'Inbound webhooks by channel (telegram, whatsapp, stripe) and outcome (accepted, duplicate, ignored, rejected, refused, invalid, error)',
  labelNames: ['channel', 'outcome'] as const,
  registers: [registry],
});
const usageReports = new Counter({
  name: 'openclaw_billing_usage_reports_total',
  help: 'Meter events the billing worker sent to Stripe, by meter and outcome (accepted; refused: a 4xx, kept pending and not retried until billing restarts, needs an operator; error: Stripe or the database unreachable, retried; undecided: sent more than 23 h ago without an answer, not resent, needs an operator)',
  labelNames: ['meter', 'outcome'] as const,
  registers: [registry],
});
const usageUndecided = new Gauge({
  name: 'openclaw_billing_usage_undecided',
  help: 'Usage reports parked undecided (sent more than 23 h ago without Stripe\'s answer, not resent), by meter: read each billing round; above 0 an operator decides',
  labelNames: ['meter'] as const,
  registers: [registry],
});
const rateLimited = new Counter({
  name: 'openclaw_rate_limit_rejections_total',
  help: 'Requests refused with 429, by limit (tier name, operator, auth_failures)',
  labelNames: ['limit'] as const,
  registers: [registry],
});
const httpRequests = new Histogram({
  name: 'openclaw_http_request_duration_seconds',
  help: 'HTTP requests by method, route pattern and status code',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: LATENCY,
  registers: [registry],
});

export const observeCommand = (command: string, outcome: string, seconds: number) => commandSeconds.observe({ command, outcome }, seconds);
export const observeAppend = (events: number, seconds: number) => {
  appendSeconds.observe(seconds);
  appendEvents.observe(events);
};
export const observeProjectorBatch = (schema: string, events: number) => projectorBatches.observe({ schema }, events);
export const countProjectorFailure = (schema: string, kind: 'error' | 'halt') => projectorFailures.inc({ schema, kind });
export const countConsumed = (consumer: string, outcome: 'ok' | 'error', events: number) => consumerEvents.inc({ consumer, outcome }, events);
export const countRelayed = (events: number) => relayedEvents.inc(events);
export const countSagaStep = (action: string) => sagaSteps.inc({ action });
export const countSagaFailure = (during: string) => sagaFailures.inc({ during });
export const countWebhook = (channel: string, outcome: string) => webhooks.inc({ channel, outcome });
export const countUsageReport = (meter: string, outcome: 'accepted' | 'refused' | 'error' | 'undecided') => usageReports.inc({ meter, outcome });
/** Sets the undecided usage reports per meter (a meter absent from `counts` has none). */
export const setUsageUndecided = (counts: readonly { meter: string; count: number }[]) => {
  usageUndecided.reset();
  for (const { meter, count } of counts) usageUndecided.set({ meter }, count);
};
export const countRateLimited = (limit: string) => rateLimited.inc({ limit });
export const observeHttp = (method: string, route: string, status: number, seconds: number) =>
  httpRequests.observe({ method, route, status: String(status) }, seconds);

export { registry } from './registry.ts';
export { measureLags, watchLag } from './lag.ts';
export type { LagSample, LagSource } from './lag.ts';
