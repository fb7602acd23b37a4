import { describe, expect, it } from 'vitest';
import { telegramConfigSchema } from '../../adapters/telegram/config.ts';
import { whatsappConfigSchema } from '../../adapters/whatsapp/config.ts';
import { ConfigError, parseEnv } from '../../runtime/config.ts';

describe('channel configuration', () => {
  it('defaults to the real platforms', () => {
    expect(parseEnv(telegramConfigSchema, {})).toEqual({
      TELEGRAM_API_ROOT: 'https://api.telegram.org/',
      TELEGRAM_TIMEOUT_MS: 10_000,
      TELEGRAM_CHAT_INTERVAL_MS: 1_000,
      TELEGRAM_CLIENT_CACHE_SIZE: 10_000,
    });
    expect(parseEnv(whatsappConfigSchema, {})).toEqual({
      WHATSAPP_GRAPH_URL: 'https://graph.facebook.com',
      WHATSAPP_API_VERSION: 'v21.0',
      WHATSAPP_TIMEOUT_MS: 10_000,
      WHATSAPP_USER_INTERVAL_MS: 6_000,
    });
  });

  it('gives telegraf an API root with a path that still resolves under it (trailing slash added)', () => {
    const root = parseEnv(telegramConfigSchema, { TELEGRAM_API_ROOT: 'http://127.0.0.1:9000/tg' }).TELEGRAM_API_ROOT;
    expect(root).toBe('http://127.0.0.1:9000/tg/');
    expect(new URL('./bot1:x/getMe', root).pathname).toBe('/tg/bot1:x/getMe');
    expect(parseEnv(whatsappConfigSchema, { WHATSAPP_GRAPH_URL: 'http://127.0.0.1:9001/' }).WHATSAPP_GRAPH_URL).toBe('http://127.0.0.1:9001');
  });

  it('names the variable of a bad value', () => {
    expect(() => parseEnv(telegramConfigSchema, { TELEGRAM_API_ROOT: 'ftp://x' })).toThrow(ConfigError);
    expect(() => parseEnv(telegramConfigSchema, { TELEGRAM_API_ROOT: 'ftp://x' })).toThrow(/TELEGRAM_API_ROOT/);
    expect(() => parseEnv(whatsappConfigSchema, { WHATSAPP_API_VERSION: '21' })).toThrow(/WHATSAPP_API_VERSION: must look like v21.0/);
    expect(() => parseEnv(whatsappConfigSchema, { WHATSAPP_USER_INTERVAL_MS: '-1' })).toThrow(/WHATSAPP_USER_INTERVAL_MS/);
  });
});
