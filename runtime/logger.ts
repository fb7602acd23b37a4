import { trace } from '@opentelemetry/api';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { logFields } from '../adapters/telemetry/log-context.ts';

export type { Logger };
export type LogFormat = 'json' | 'pretty';

/**
 * Paths redacted wherever they appear in a log object (one level of nesting, plus request
 * headers): credentials, keys and third-party secrets. test/telemetry/logs.test.ts logs each.
 */
export const REDACT_PATHS = [
  ...['token', 'secret', 'password', 'apiKey', 'authorization', 'botToken', 'appSecret', 'accessToken', 'privateKey', 'key', 'bridgeToken'].flatMap(
    (f) => [f, `*.${f}`],
  ),
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'env.ENCRYPTION_KEY',
  'env.OPERATOR_API_KEY',
  'env.JWT_SECRET',
  'env.ORGO_API_KEY',
];

const COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One readable, coloured line per entry (`dev` on a terminal): time, level, message, then the rest as key=value. */
const prettyLines = (out: NodeJS.WritableStream): DestinationStream => ({
  write(line: string) {
    const { level, time, msg, err, ...rest } = JSON.parse(line) as Record<string, unknown> & { level: number; time: number; msg?: string; err?: { stack?: string } };
    const fields = Object.entries(rest)
      .map(([k, v]) => `\x1b[90m${k}=\x1b[0m${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const stamp = new Date(time).toISOString().slice(11, 23);
    out.write(`\x1b[90m${stamp}\x1b[0m \x1b[${COLOURS[level] ?? '0'}m${(LEVELS[level] ?? String(level)).padEnd(5)}\x1b[0m ${msg ?? ''} ${fields}\n`);
    if (err?.stack) out.write(`\x1b[90m${err.stack}\x1b[0m\n`);
  },
});

/**
 * On every entry: the active span's ids, so a log line leads to its trace, and the fields of the
 * work it was written in (the tenant and request of an API call, the tenant and consumer of a bus
 * handler's batch; adapters/telemetry/log-context.ts).
 */
const traceIds = () => {
  const sc = trace.getActiveSpan()?.spanContext();
  const fields = logFields();
  // always a fresh object: pino merges the line's own fields into what the mixin returns
  return sc && trace.isSpanContextValid(sc) ? { ...fields, trace_id: sc.traceId, span_id: sc.spanId } : { ...fields };
};

/** JSON logs to stdout (or coloured lines); secrets are redacted by path wherever they might ride along. */
export const createLogger = (level: string, format: LogFormat = 'json', destination?: NodeJS.WritableStream): Logger => {
  const options = { level, base: undefined, mixin: traceIds, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (format === 'pretty') return pino(options, prettyLines(destination ?? process.stdout));
  return destination ? pino(options, destination as DestinationStream) : pino(options);
};
