import { ClientRequest } from 'node:http';
import { createRequire } from 'node:module';
import { trace } from '@opentelemetry/api';
import type { ProxyTracerProvider, Span } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { sharedContextManager } from '../adapters/telemetry/log-context.ts';
import { tracingWanted } from './tracing-wanted.ts';

export { tracingWanted };

/**
 * What is traced, and what is left out because it cost more than it told (bench api-command-tracing,
 * docs/operations.md): incoming requests get their server span from our own middleware
 * (adapters/telemetry/http.ts, startServerSpan: traceparent in, one span per request named by its
 * route), not from the http and express instrumentations, which made the same span at a much
 * higher cost (with the SDK's meter provider also gone, overhead 34–49 % → a median of 17 %); http stays for
 * outgoing requests. pg makes a span per query, only under a parent span and none per pool checkout.
 */
export const instrumentations = () => [
  new HttpInstrumentation({ disableIncomingRequestInstrumentation: true, requestHook: (span, request) => void (isClientRequest(request) && redactUrlAttributes(span)) }),
  new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
  new KafkaJsInstrumentation(),
];

/**
 * A secret in an outgoing URL: the Bot API puts the bot's token in the path (`/bot<token>/sendMessage`,
 * `/file/bot<token>/…`). Other clients send theirs in headers, which spans do not record.
 */
const SECRET_IN_PATH = /\/bot[^/?#]+/g;
export const redactUrl = (url: string): string => url.replace(SECRET_IN_PATH, '/bot[REDACTED]');
const URL_ATTRIBUTES = ['url.full', 'url.path', 'http.url', 'http.target'] as const;

const isClientRequest = (request: unknown): request is ClientRequest => request instanceof ClientRequest;
/** The client span's URL attributes, with their secrets redacted (the hook runs after the instrumentation set them). */
const redactUrlAttributes = (span: Span) => {
  const attributes = (span as Partial<ReadableSpan>).attributes ?? {};
  for (const name of URL_ATTRIBUTES) {
    const value = attributes[name];
    const redacted = typeof value === 'string' ? redactUrl(value) : value;
    if (redacted !== value) span.setAttribute(name, redacted!);
  }
};

/** The CommonJS modules our instrumentations patch (see startTracing). */
const INSTRUMENTED_MODULES = ['kafkajs', 'pg'] as const;

/**
 * OpenTelemetry for this process, configured by the OTEL_* variables (exporter, endpoint,
 * sampler, service name); `exporter` replaces theirs (tests, the benchmark). Must run before the
 * modules it instruments are loaded (the CLI starts it first and imports the roles after).
 */
export const startTracing = (
  env: NodeJS.ProcessEnv,
  role: string,
  exporter?: SpanExporter,
  /** `simple` (tests): every span reaches the exporter as it ends; `batch`: as the OTEL_* exporters, in batches. */
  processor: 'simple' | 'batch' = 'simple',
): { shutdown(): Promise<void>; forceFlush(): Promise<void> } | undefined => {
  if (!exporter && !tracingWanted(env)) return undefined;
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? `openclaw-service-${role}`,
    // spans and log fields in one AsyncLocalStorage, not one each (adapters/telemetry/log-context.ts)
    contextManager: sharedContextManager(),
    // Metrics are prom-client's (/metrics); the SDK's own meter and logger providers (an OTLP push each by
    // default, fed by every instrumentation's histograms) only when their variables ask for them.
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    ...(exporter ? { spanProcessors: [processor === 'simple' ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)] } : {}),
    instrumentations: instrumentations(),
  });
  sdk.start();
  // The instrumentations patch CommonJS modules as they are require()d; our ESM `import`s (kafkajs)
  // do not pass that hook, so without this they stayed unpatched (no kafkajs spans).
  // Loading them once through require patches their classes in place, and every later import shares them.
  const require = createRequire(import.meta.url);
  for (const name of INSTRUMENTED_MODULES) require(name);
  const provider = trace.getTracerProvider() as ProxyTracerProvider;
  return {
    shutdown: () => sdk.shutdown(),
    /** Every ended span handed to the exporter (the benchmark counts them). */
    forceFlush: async () => {
      const delegate = provider.getDelegate() as { forceFlush?: () => Promise<void> };
      await delegate.forceFlush?.();
    },
  };
};
