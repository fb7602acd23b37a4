import { z } from 'zod';
import { decimalInt } from '../config/decimal.ts';

/** telegraf resolves `./bot<token>/<method>` against the root, so a root with a path must end in a slash. */
const withTrailingSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

/** Environment variables of the Telegram adapter; runtime/config.ts can merge `.shape` into its schema. */
export const telegramConfigSchema = z.object({
  /** The Bot API's base URL; tests and the embedded default point it at a local double. */
  TELEGRAM_API_ROOT: z
    .string()
    .url()
    .regex(/^https?:\/\//, 'must be an http(s) URL')
    .transform(withTrailingSlash)
    .default('https://api.telegram.org/'),
  /** One Bot API call (a try) fails as `telegram_timeout` after this long. */
  TELEGRAM_TIMEOUT_MS: decimalInt(100, 120_000).default(10_000),
  /** At least this long between two messages to one chat (Telegram: about one a second, bursts then 429). */
  TELEGRAM_CHAT_INTERVAL_MS: decimalInt(0, 60_000).default(1_000),
  /** Tenants whose telegraf client is kept; the least recently used is dropped beyond this. */
  TELEGRAM_CLIENT_CACHE_SIZE: decimalInt(1, 1_000_000).default(10_000),
});
export type TelegramConfig = z.infer<typeof telegramConfigSchema>;
