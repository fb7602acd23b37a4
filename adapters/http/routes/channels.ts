import {
  connectTelegramBot,
  connectTelegramInput,
  connectWhatsAppInput,
  connectWhatsAppNumber,
  disconnectTelegramBot,
  disconnectWhatsAppNumber,
} from '../../../commands/channels/connect.ts';
import type { ChannelPlatforms } from '../../../domain/ports/channels.ts';
import { HttpError } from '../http-error.ts';
import { defineRoute, noBody, positioned } from './route.ts';
import type { RouteDeps } from './route.ts';

const tag = 'channels';

const platformsOf = (deps: RouteDeps): ChannelPlatforms => {
  if (!deps.channels) throw new HttpError(503, 'channels_unavailable', 'this process cannot reach Telegram or WhatsApp');
  return deps.channels;
};

export const channelRoutes = [
  defineRoute({
    method: 'post', path: '/channels/telegram', tag, summary: "Connect the tenant's Telegram bot by its token (replaces a connected one)",
    scopes: ['tenant'], tenant: 'credential', body: connectTelegramInput, status: 200,
    handle: async ({ deps, caller, body }) => {
      const r = await connectTelegramBot(deps.ports, platformsOf(deps), caller(), body);
      return {
        body: { botId: r.botId, botUsername: r.botUsername, webhookUrl: r.webhookUrl, previousWebhookRemoved: r.previousWebhookRemoved, ...positioned(r) },
        duplicate: r.duplicate,
      };
    },
  }),
  defineRoute({
    method: 'delete', path: '/channels/telegram', tag, summary: "Disconnect the tenant's Telegram bot and remove its webhook",
    scopes: ['tenant'], tenant: 'credential', body: noBody, status: 200,
    handle: async ({ deps, caller }) => {
      const r = await disconnectTelegramBot(deps.ports, platformsOf(deps), caller());
      return { body: { webhookRemoved: r.webhookRemoved, ...positioned(r) }, duplicate: r.duplicate };
    },
  }),
  defineRoute({
    method: 'post', path: '/channels/whatsapp', tag, summary: "Connect the tenant's WhatsApp Business number (replaces a connected one)",
    scopes: ['tenant'], tenant: 'credential', body: connectWhatsAppInput, status: 200,
    handle: async ({ deps, caller, body }) => {
      const r = await connectWhatsAppNumber(deps.ports, platformsOf(deps), caller(), body);
      return { body: { phoneNumberId: r.phoneNumberId, displayPhoneNumber: r.displayPhoneNumber, webhookUrl: r.webhookUrl, ...positioned(r) }, duplicate: r.duplicate };
    },
  }),
  defineRoute({
    method: 'delete', path: '/channels/whatsapp', tag, summary: "Disconnect the tenant's WhatsApp number",
    scopes: ['tenant'], tenant: 'credential', body: noBody, status: 200,
    handle: async ({ deps, caller }) => {
      const r = await disconnectWhatsAppNumber(deps.ports, caller());
      return { body: { ...positioned(r) }, duplicate: r.duplicate };
    },
  }),
];
