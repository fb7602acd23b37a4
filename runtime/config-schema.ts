import { z } from 'zod';
import { agentsConfigSchema } from '../adapters/agents/config.ts';
import { billingConfigSchema } from '../adapters/billing/config.ts';
import { channelsConfigSchema } from '../adapters/channels/config.ts';
import { httpApiConfigSchema } from '../adapters/http/index.ts';
import { orgoConfigSchema } from '../adapters/orgo/config.ts';
import { provisioningConfigSchema } from '../adapters/provisioning/config.ts';
import { telegramConfigSchema } from '../adapters/telegram/config.ts';
import { whatsappConfigSchema } from '../adapters/whatsapp/config.ts';
import { wsConfigSchema } from '../adapters/ws/config.ts';
import { coreConfigSchema, parseEnv } from './config.ts';

/**
 * The standard OpenTelemetry variables the SDK reads (runtime/tracing.ts): accepted as strings
 * here, validated by the SDK. With none of the exporter ones set, tracing is off.
 */
const otelConfigSchema = z.object(
  Object.fromEntries(
    [
      'OTEL_SDK_DISABLED',
      'OTEL_SERVICE_NAME',
      'OTEL_RESOURCE_ATTRIBUTES',
      'OTEL_TRACES_EXPORTER',
      'OTEL_TRACES_SAMPLER',
      'OTEL_TRACES_SAMPLER_ARG',
      'OTEL_PROPAGATORS',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_EXPORTER_OTLP_HEADERS',
      'OTEL_EXPORTER_OTLP_TIMEOUT',
    ].map((name) => [name, z.string().optional()]),
  ),
);

/** Every environment variable the service reads, in one schema: the README's configuration table mirrors it. */
export const ENV_SCHEMA = coreConfigSchema
  .extend(httpApiConfigSchema.shape)
  .extend(orgoConfigSchema.shape)
  .extend(provisioningConfigSchema.shape)
  .extend(telegramConfigSchema.shape)
  .extend(whatsappConfigSchema.shape)
  .extend(channelsConfigSchema.shape)
  .extend(wsConfigSchema.shape)
  .extend(agentsConfigSchema.shape)
  .extend(billingConfigSchema.shape)
  .extend(otelConfigSchema.shape);

export const ENV_VARS: readonly string[] = Object.keys(ENV_SCHEMA.shape).sort();

/** Names whose values are secret: `config` masks them, errors never echo them. */
export const isSecretVar = (name: string): boolean => /(KEY|KEYS|SECRET|TOKEN|PASSWORD|HEADERS)$/.test(name);

/** Every variable checked at once (a bad one stops the process with its name), before any role starts. */
export const checkEnv = (env: NodeJS.ProcessEnv) => parseEnv(ENV_SCHEMA, env);

/** A URL with its password replaced, for messages and `config`. */
export const redactUrl = (value: string): string => {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    // drivers also take credentials from the query (postgres ?password=, redis ?password=)
    for (const name of [...url.searchParams.keys()]) if (/pass|secret|token|key/i.test(name)) url.searchParams.set(name, '***');
    return url.toString();
  } catch {
    return '***';
  }
};

/** The effective configuration (defaults filled in) with secrets masked: `openclaw-service config`. */
export const effectiveConfig = (env: NodeJS.ProcessEnv): Record<string, string | number | null> => {
  const parsed: Record<string, unknown> = checkEnv(env);
  return Object.fromEntries(
    ENV_VARS.map((name) => {
      const value = parsed[name];
      if (value === undefined || value === null) return [name, null];
      const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
      // a URL carries credentials in its user info or query, whatever the variable's name (OTEL_EXPORTER_OTLP_ENDPOINT)
      if (/_URL$|_ENDPOINT$/.test(name) || /^[a-z][a-z0-9+.-]*:\/\/[^/\s]*@/i.test(text)) return [name, redactUrl(text)];
      return [name, isSecretVar(name) ? `*** (${text.length} chars)` : typeof value === 'number' ? value : text];
    }),
  );
};
