import type { IncomingMessage } from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import type { Attributes, Context, Link, Span, SpanContext } from '@opentelemetry/api';
import type { ShellInstrumentation } from '../../commands/shell/instrumentation.ts';
import { observeAppend, observeCommand } from './metrics.ts';

/**
 * Our own spans (command shell, append, projector batch, consumer handler). Without an SDK
 * registered (no OTEL_* exporter configured) the API hands out non-recording spans: no cost
 * beyond a function call, and no traceparent is written into events.
 */
const tracer = trace.getTracer('openclaw-service');

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The active span as a W3C traceparent, when a real (sampled or not) span is active. */
export const activeTraceparent = (): string | undefined => {
  const span = trace.getActiveSpan();
  const sc = span?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc) || !span!.isRecording()) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0')}`;
};

export const spanContextOf = (traceparent: unknown): SpanContext | undefined => {
  const m = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent) : null;
  return m ? { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true } : undefined;
};

const code = (error: unknown) =>
  typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : 'error';

/** Runs `fn` in a span (active for what it calls); an error marks the span and is rethrown. */
export const inSpan = async <T>(
  name: string,
  options: { attributes?: Attributes; kind?: SpanKind; parent?: Context; links?: Link[] },
  fn: (span: Span) => Promise<T>,
): Promise<T> =>
  tracer.startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}), ...(options.links ? { links: options.links } : {}) },
    options.parent ?? context.active(),
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: code(error) });
        throw error;
      } finally {
        span.end();
      }
    },
  );

/**
 * A span for work on a batch of stored events (a projector batch, a consumer's handler): a child
 * of the first event's trace (where its traceparent was recorded), linked to the others'.
 */
export const inEventsSpan = <T>(
  name: string,
  events: readonly { readonly metadata: { readonly traceparent?: string | undefined } }[],
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> => {
  if (events.length === 0) return fn();
  const contexts = events.map((e) => spanContextOf(e.metadata.traceparent)).filter((sc): sc is SpanContext => sc !== undefined);
  const [first, ...rest] = contexts;
  // under a span of the same trace already (kafkajs's process span), stay its child
  const active = trace.getActiveSpan()?.spanContext();
  const parent = first && active?.traceId !== first.traceId ? trace.setSpanContext(context.active(), first) : undefined;
  const links = rest.slice(0, 32).map((sc) => ({ context: sc }));
  return inSpan(
    name,
    { kind: SpanKind.CONSUMER, attributes: { ...attributes, 'messaging.batch.message_count': events.length }, ...(parent ? { parent } : {}), links },
    fn,
  );
};

/** An HTTP request's server span: `run` continues the request inside it, `end` names it by its route and closes it. */
export interface ServerSpan {
  run(fn: () => void): void;
  end(route: string | undefined, status: number, completed: boolean): void;
}

const pathOf = (url: string) => {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
};

/**
 * The server span of an incoming request, in place of the http and express instrumentations'
 * (docs/operations.md, Tracing): a child of the request's `traceparent` (by the configured
 * propagator), active for everything the request runs; named `<METHOD> <route>` with the stable semantic-convention
 * attributes (method, path, route, status; never the query string). Undefined when there is nothing to
 * trace into (no SDK: the request runs as it is).
 */
export const startServerSpan = (req: IncomingMessage): ServerSpan | undefined => {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const method = req.method ?? 'GET';
  const span = tracer.startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': method,
        'url.scheme': 'http',
        'url.path': pathOf(req.url ?? '/'),
        'network.protocol.version': req.httpVersion,
        ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
      },
    },
    parent,
  );
  // no SDK: a non-recording span with no context to pass on (a sampled-out span still passes its own)
  if (!span.isRecording() && !trace.isSpanContextValid(span.spanContext())) return undefined;
  const active = trace.setSpan(parent, span);
  return {
    // Not bound to the request stream, as the http instrumentation binds it (every method that adds or
    // removes a listener patched on each request, every listener wrapped: in a profile it cost as much
    // as creating all the request's spans): the body parser (raw-body) calls back in the context it was called in.
    run: (fn) => context.with(active, fn),
    end(route, status, completed) {
      if (route !== undefined) {
        span.setAttribute('http.route', route);
        span.updateName(`${method} ${route}`);
      }
      span.setAttribute('http.response.status_code', status);
      if (!completed) span.setStatus({ code: SpanStatusCode.ERROR, message: 'connection closed before the response was sent' });
      else if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
};

const errorOutcome = (error: unknown) => code(error);

/** The command shell's instrumentation: a span and the latency/outcome histogram per command, the append's span and sizes. */
export const shellTelemetry: ShellInstrumentation = {
  async command(name, run, outcome) {
    const started = performance.now();
    return inSpan(`command ${name}`, { attributes: { 'openclaw.command': name } }, async (span) => {
      try {
        const result = await run();
        const how = outcome(result);
        span.setAttribute('openclaw.outcome', how);
        observeCommand(name, how, (performance.now() - started) / 1000);
        return result;
      } catch (error) {
        observeCommand(name, errorOutcome(error), (performance.now() - started) / 1000);
        throw error;
      }
    });
  },
  async append(events, run) {
    const started = performance.now();
    return inSpan('eventstore append', { attributes: { 'openclaw.events': events } }, async () => {
      const result = await run();
      observeAppend(events, (performance.now() - started) / 1000);
      return result;
    });
  },
  traceparent: activeTraceparent,
};
