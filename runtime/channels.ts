import { createTelegramBots } from '../adapters/telegram/bots.ts';
import type { TelegramBots, TelegramBotsOptions } from '../adapters/telegram/bots.ts';
import { channelsConfigSchema } from '../adapters/channels/config.ts';
import { createWhatsAppSender } from '../adapters/whatsapp/sender.ts';
import type { WhatsAppSender } from '../adapters/whatsapp/sender.ts';
import type { ChannelPlatforms } from '../domain/ports/channels.ts';
import { parseEnv } from './config.ts';


export interface Channels {
  readonly telegram: TelegramBots;
  readonly whatsapp: WhatsAppSender;
  readonly platforms: ChannelPlatforms;
}

/** PUBLIC_URL as the channels read it (checked, no trailing slash); undefined when unset. Billing and the saga derive theirs from it. */
export const publicUrlOf = (env: Record<string, string | undefined>): string | undefined =>
  parseEnv(channelsConfigSchema.pick({ PUBLIC_URL: true }), env).PUBLIC_URL;

/** The Telegram and WhatsApp clients of one process; `localUrl` stands in for PUBLIC_URL when it is unset. */
export const channelsOf = (env: Record<string, string | undefined>, localUrl: string, agents?: TelegramBotsOptions['agents']): Channels => {
  const config = parseEnv(channelsConfigSchema, env);
  const telegram = createTelegramBots({
    ...(agents ? { agents } : {}),
    apiRoot: config.TELEGRAM_API_ROOT,
    timeoutMs: config.TELEGRAM_TIMEOUT_MS,
    chatIntervalMs: config.TELEGRAM_CHAT_INTERVAL_MS,
    maxClients: config.TELEGRAM_CLIENT_CACHE_SIZE,
  });
  const whatsapp = createWhatsAppSender({
    ...(agents ? { agents } : {}),
    graphUrl: config.WHATSAPP_GRAPH_URL,
    apiVersion: config.WHATSAPP_API_VERSION,
    timeoutMs: config.WHATSAPP_TIMEOUT_MS,
    userIntervalMs: config.WHATSAPP_USER_INTERVAL_MS,
  });
  return { telegram, whatsapp, platforms: { telegram, whatsapp, publicUrl: config.PUBLIC_URL ?? localUrl } };
};
