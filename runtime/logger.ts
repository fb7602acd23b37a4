import { trace } from '@opentelemetry/api';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

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

/** The active span's ids on every entry, so a log line leads to its trace. */
const traceIds = () => {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
};

/** JSON logs to stdout (or coloured lines); secrets are redacted by path wherever they might ride along. */
export const createLogger = (level: string, format: LogFormat = 'json', destination?: NodeJS.WritableStream): Logger => {
  const options = { level, base: undefined, mixin: traceIds, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (format === 'pretty') return pino(options, prettyLines(destination ?? process.stdout));
  return destination ? pino(options, destination as DestinationStream) : pino(options);
};
