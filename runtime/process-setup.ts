import { startTelemetryServer } from '../adapters/telemetry/http.ts';
import type { Config } from './config.ts';
import { checkEnv } from './config-schema.ts';
import type { LogFormat } from './logger.ts';
import { checkReachable } from './preflight.ts';
import { installShellTelemetry } from './telemetry.ts';
import { tracingWanted } from './tracing-wanted.ts';

/**
 * What every serving command does before its roles start: every variable checked (one line
 * naming a bad one), the database reached, tracing started when OTEL_* asks for it, the metrics
 * listener on METRICS_PORT. `stopping` wraps the roles' stop so these close after them.
 */
export const prepareProcess = async (config: Config, role: string) => {
  checkEnv(process.env);
  await checkReachable(config);
  // the SDK's modules load only when an exporter is asked for
  const tracing = tracingWanted(process.env) ? (await import('./tracing.ts')).startTracing(process.env, role) : undefined;
  installShellTelemetry();
  let started: boolean | 'stopping' = false;
  const metrics =
    config.METRICS_PORT === undefined
      ? undefined
      : await startTelemetryServer({
          port: config.METRICS_PORT,
          host: config.METRICS_HOST,
          started: () => started,
          bounds: { maxLagSeconds: config.READY_MAX_LAG_SECONDS, maxLagEvents: config.READY_MAX_LAG_EVENTS },
        });
  const logFormat: LogFormat = config.LOG_FORMAT === 'auto' ? (role === 'dev' && process.stdout.isTTY ? 'pretty' : 'json') : config.LOG_FORMAT;
  return {
    logFormat,
    metricsUrl: metrics?.url,
    /** Marks the process started (readiness may pass from now on) and returns the full stop. */
    stopping: (stop: () => Promise<void>) => {
      started = true;
      return async () => {
        // not ready while the roles drain: the probe takes the process out of service first
        started = 'stopping';
        await stop();
        await metrics?.close();
        await tracing?.shutdown();
      };
    },
  };
};
