/**
 * Is an exporter configured by the standard variables? Without one, tracing is not started at all, and
 * OpenTelemetry's SDK (runtime/tracing.ts, about 900 modules) is not even loaded: a CLI command or a
 * role without OTEL_* starts that much sooner.
 */
export const tracingWanted = (env: NodeJS.ProcessEnv): boolean =>
  env.OTEL_SDK_DISABLED !== 'true' &&
  ((env.OTEL_TRACES_EXPORTER !== undefined && env.OTEL_TRACES_EXPORTER !== '' && env.OTEL_TRACES_EXPORTER !== 'none') ||
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT) ||
    Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT));
