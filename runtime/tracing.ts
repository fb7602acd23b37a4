import { createRequire } from 'node:module';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';

/** Is an exporter configured by the standard variables? Without one, tracing is not started at all. */
export const tracingWanted = (env: NodeJS.ProcessEnv): boolean =>
  env.OTEL_SDK_DISABLED !== 'true' &&
  ((env.OTEL_TRACES_EXPORTER !== undefined && env.OTEL_TRACES_EXPORTER !== '' && env.OTEL_TRACES_EXPORTER !== 'none') ||
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT) ||
    Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT));

export const instrumentations = () => [
  new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => req.url === '/metrics' || req.url === '/healthz' || req.url === '/readyz' }),
  // routers and route handlers only: a span per middleware (headers, body parsing, auth steps) is noise and cost
  new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
  new PgInstrumentation({ requireParentSpan: true }),
  new KafkaJsInstrumentation(),
];

/** The CommonJS modules our instrumentations patch (see startTracing). */
const INSTRUMENTED_MODULES = ['kafkajs', 'express', 'pg'] as const;

/**
 * OpenTelemetry for this process, configured by the OTEL_* variables (exporter, endpoint,
 * sampler, service name); `exporter` replaces theirs (tests, the benchmark). Must run before the
 * modules it instruments are loaded (the CLI starts it first and imports the roles after).
 */
export const startTracing = (env: NodeJS.ProcessEnv, role: string, exporter?: SpanExporter): { shutdown(): Promise<void> } | undefined => {
  if (!exporter && !tracingWanted(env)) return undefined;
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? `openclaw-service-${role}`,
    // an exporter handed in is in-process (tests, the benchmark): every span reaches it as it ends
    ...(exporter ? { spanProcessors: [new SimpleSpanProcessor(exporter)] } : {}),
    instrumentations: instrumentations(),
  });
  sdk.start();
  // The instrumentations patch CommonJS modules as they are require()d; our ESM `import`s of kafkajs and
  // express do not pass that hook, so without this they stayed unpatched (no kafkajs or express spans).
  // Loading them once through require patches their classes in place, and every later import shares them.
  const require = createRequire(import.meta.url);
  for (const name of INSTRUMENTED_MODULES) require(name);
  return { shutdown: () => sdk.shutdown() };
};
