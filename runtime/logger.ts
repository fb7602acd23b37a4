import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/** JSON logs to stdout; secrets are redacted by path wherever they might ride along. */
export const createLogger = (level: string): Logger =>
  pino({
    level,
    base: undefined,
    redact: {
      paths: ['*.token', '*.secret', '*.password', '*.apiKey', '*.authorization', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  });
