import path from 'node:path';
import { z } from 'zod';
import { decimalInt, decimalNumber, isDecimalIntIn } from '../adapters/config/decimal.ts';
import { encryptionConfigSchema } from '../adapters/crypto/master-keys.ts';
import { listenPort as port } from '../adapters/http/listen-port.ts';

/** Every environment variable the service reads. README's configuration table mirrors this. */
export const logLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

const schema = z.object({
  PORT: port('the HTTP port').default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('.data'),
  DATABASE_URL: z.string().url().optional(),
  EVENTSTORE_URL: z.string().min(1).optional(),
  EVENT_STORE: z.enum(['auto', 'pglite', 'postgres', 'eventstoredb']).default('auto'),
  EVENT_STORE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('eventlog'),
  READ_MODEL_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('rm'),
  /**
   * After a batch that did not fill, the projector waits this long before the next: bigger batches,
   * a little more lag. 5 ms halved the database work per event of a projector thread under load.
   */
  PROJECTOR_LINGER_MS: decimalInt(0, 1_000).default(5),
  /**
   * The `api` role only: where its projector runs — `thread` (a worker thread of the API process),
   * `none` (a separate `projector` role; the API hears of batches by LISTEN) or `inline`.
   */
  PROJECTOR_MODE: z.enum(['thread', 'none', 'inline']).default('thread'),
  /** Which bus consumers read: `local` (the in-process bus over the store) or `kafka` (the topic the relay fills). */
  BUS: z.enum(['local', 'kafka']).default('local'),
  /** Comma-separated `host:port` list; needed by the relay role and BUS=kafka. */
  KAFKA_BROKERS: z
    .string()
    .refine((list) => list.split(',').every((broker) => /^[^\s,:]+:\d+$/.test(broker) && isDecimalIntIn(broker.slice(broker.lastIndexOf(':') + 1), 1, 65_535)), 'expected host:port[,host:port…], each port 1–65535')
    .optional(),
  KAFKA_CLIENT_ID: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/).default('openclaw-service'),
  KAFKA_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('openclaw.events'),
  KAFKA_DEAD_LETTER_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('openclaw.events.dead-letter'),
  /** Partitions of the topics when the relay or the bus creates them; an existing topic keeps its count. */
  KAFKA_PARTITIONS: decimalInt(1, 1_000).default(8),
  /** Attempts per event before a bus consumer dead-letters it; the pause doubles from BUS_RETRY_MS up to 30 times that. */
  BUS_MAX_ATTEMPTS: decimalInt(1, 100).default(5),
  BUS_RETRY_MS: decimalInt(1, 60_000).default(100),
  PG_POOL_SIZE: decimalInt(1, 100).default(8),
  LOG_LEVEL: logLevelSchema,
  /** `json` (one object a line), `pretty` (coloured lines), `auto`: pretty for `dev` on a terminal, else JSON. */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  /** A second listener with /metrics, /healthz and /readyz and no credentials (for Prometheus and probes); unset: none. */
  METRICS_PORT: port('the metrics port').optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Which peers are proxies whose `X-Forwarded-For` names the client (the per-address auth-failure
   * limit and logs use it): a hop count, or comma-separated `loopback`, `linklocal`, `uniquelocal`,
   * addresses and CIDRs. Unset: none — the socket's address is the client, and the header is ignored
   * (a client could otherwise pick its own address).
   */
  TRUST_PROXY: z
    .string()
    .regex(/^(\d{1,2}|(loopback|linklocal|uniquelocal|[0-9A-Fa-f.:]+(\/\d{1,3})?)(\s*,\s*(loopback|linklocal|uniquelocal|[0-9A-Fa-f.:]+(\/\d{1,3})?))*)$/, 'a hop count, or loopback, linklocal, uniquelocal, addresses and CIDRs separated by commas')
    .optional(),
  /** /readyz fails when a projection, the relay or a consumer is further behind than this. */
  READY_MAX_LAG_SECONDS: decimalNumber(1, 86_400).default(60),
  READY_MAX_LAG_EVENTS: decimalInt(1).default(10_000),
  ...encryptionConfigSchema.shape,
});

/** The process-wide variables (storage, bus, logs, telemetry); runtime/config-schema.ts adds every adapter's. */
export const coreConfigSchema = schema;

export type Config = z.infer<typeof schema> & { readonly eventStore: 'pglite' | 'postgres' | 'eventstoredb' };

/** A YYYY-MM-DD day that exists on the calendar (2026-02-30 does not: Date would roll it into March). */
export const isCalendarDay = (text: string): boolean => z.iso.date().safeParse(text).success;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Values of these are never echoed in an error (API_KEY_CACHE_MS, a number, is not one of them). */
const SECRET = /KEYS?$|SECRET|TOKEN|PASSWORD|_URL$/;

/** `PORT: expected the HTTP port, a decimal integer 0–65535 (got "abc")` — the variable, what it expects, what it got. */
const problemText = (issue: z.core.$ZodIssue, env: NodeJS.ProcessEnv): string => {
  const name = issue.path.join('.');
  const value = env[name];
  const got = value === undefined || value === '' ? 'unset' : SECRET.test(name) ? 'value not shown' : `got ${JSON.stringify(value.slice(0, 60))}`;
  return `${name}: ${issue.message.replace(/^Invalid (input|option): /, '')} (${got})`;
};

/**
 * `env` (empty values count as unset) parsed by `envSchema`, or a ConfigError naming every bad
 * variable. Adapters own the schemas of their variables; roles check them here, before starting.
 */
export const parseEnv = <S extends z.ZodType>(envSchema: S, env: NodeJS.ProcessEnv): z.output<S> => {
  // only spaces is a mistake, not "unset": a number would read it as 0 (PORT=' ' a random port)
  const blank = Object.entries(env).filter(([name, v]) => v !== undefined && v !== '' && v.trim() === '' && name in ((envSchema as { shape?: object }).shape ?? {}));
  if (blank.length > 0) throw new ConfigError(`invalid configuration: ${blank.map(([name]) => `${name}: only spaces; unset it or give a value`).join('; ')}`);
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration: ${parsed.error.issues.map((i) => problemText(i, env)).join('; ')}`);
  }
  return parsed.data;
};

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): Config => {
  const c = parseEnv(schema, env);
  const eventStore =
    c.EVENT_STORE !== 'auto' ? c.EVENT_STORE : c.EVENTSTORE_URL ? 'eventstoredb' : c.DATABASE_URL ? 'postgres' : 'pglite';
  if (eventStore === 'postgres' && !c.DATABASE_URL) throw new ConfigError('EVENT_STORE=postgres needs DATABASE_URL');
  if (eventStore === 'eventstoredb' && !c.EVENTSTORE_URL) throw new ConfigError('EVENT_STORE=eventstoredb needs EVENTSTORE_URL');
  if (c.BUS === 'kafka' && !c.KAFKA_BROKERS) throw new ConfigError('BUS=kafka needs KAFKA_BROKERS');
  return { ...c, DATA_DIR: path.resolve(c.DATA_DIR), eventStore };
};
