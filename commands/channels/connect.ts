import { createHash, createHmac } from 'node:crypto';
import { z } from 'zod';
import { requireActiveTenant, tenantDecider, tenantFacts } from '../../domain/index.ts';
import type { TenantId } from '../../domain/index.ts';
import type { ChannelPlatforms } from '../../domain/ports/channels.ts';
import { tenantStream } from '../../domain/shared/streams.ts';
import { accepted, envelope } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

/** The webhook paths carry the tenant's slug (its id): the secret, not the path, is what authenticates. */
export const telegramWebhookUrl = (publicUrl: string, tenantId: string) => `${publicUrl}/webhooks/telegram/${tenantId}`;
export const whatsappWebhookUrl = (publicUrl: string, tenantId: string) => `${publicUrl}/webhooks/whatsapp/${tenantId}`;

/** Secrets are never echoed: the schemas check only lengths, whose messages hold no input. */
/** Tokens and secrets travel in URLs and headers: visible ASCII only (anything else is refused here, not by a failed request). */
const secret = (max: number) => z.string().min(1).max(max).regex(/^[\x21-\x7e]+$/, 'visible ASCII characters only');
export const connectTelegramInput = z.object({ token: secret(200) }).strict();
export const connectWhatsAppInput = z
  .object({ phoneNumberId: z.string().regex(/^\d{1,30}$/, 'digits only'), accessToken: secret(1000), appSecret: secret(200), verifyToken: secret(256) })
  .strict();

/** What is stored of a webhook secret or verify token (the same SHA-256 the webhook routes compare with). */
const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

/** The tenant's state, refused (suspended, erased…) before any platform is called on its behalf. */
const tenantOf = async (ports: CommandPorts, tenantId: TenantId) => {
  const { state } = await ports.shell.state(tenantDecider, tenantStream(tenantId));
  requireActiveTenant(tenantFacts(state));
  return state;
};

/**
 * A bot's webhook secret for a tenant: derived from its token (a key only the tenant, Telegram and we
 * hold), not drawn at random, so connects of the same bot that overlap (a double submit, a client
 * retrying before the first answer) all hand Telegram the same secret, and whichever is recorded last
 * matches what Telegram holds. A new token (BotFather /revoke) gives a new secret.
 */
const webhookSecretOf = (token: string, tenantId: TenantId) => createHmac('sha256', token).update(`openclaw-service telegram webhook ${tenantId}`).digest('base64url');

/** The bot behind the token (getMe: a refused token fails here, nothing stored), its webhook pointed here with its secret. */
const registerWebhook = async (platforms: ChannelPlatforms, credentials: { tenantId: TenantId; token: string }, url: string) => {
  const me = await platforms.telegram.getMe(credentials);
  const { secretToken } = await platforms.telegram.setWebhook(credentials, { url, secretToken: webhookSecretOf(credentials.token, credentials.tenantId) });
  return { botId: me.botId, botUsername: me.botUsername, webhookSecretHash: sha256(secretToken) };
};

/**
 * Connects a Telegram bot: the token is checked with getMe (a refused token fails with its reason and
 * nothing is stored), the webhook is pointed here with the bot's secret, then the bot is recorded (token
 * sealed, secret as a hash). A different bot that was connected is replaced: its webhook is removed.
 */
export const connectTelegramBot = async (
  ports: CommandPorts,
  platforms: ChannelPlatforms,
  caller: Caller,
  input: z.infer<typeof connectTelegramInput>,
): Promise<Accepted & { botId: number; botUsername: string; webhookUrl: string; previousWebhookRemoved: boolean | null }> => {
  const tenantId = caller.tenantId;
  const credentials = { tenantId, token: input.token };
  const before = await tenantOf(ports, tenantId);
  const previous = before.status === 'active' || before.status === 'suspended' ? before.telegram : null;
  const webhookUrl = telegramWebhookUrl(platforms.publicUrl, tenantId);
  // A retried request (its Idempotency-Key is recorded) is answered from the record without calling
  // Telegram again. The shell answers the duplicate, or refuses the key when the request differs.
  const replayed = caller.idempotency !== undefined && (await ports.shell.recorded(tenantDecider, tenantStream(tenantId), caller.idempotency.key));
  const bot = replayed
    ? { botId: previous?.botId ?? 0, botUsername: previous?.botUsername ?? '', webhookSecretHash: previous?.webhookSecretHash ?? '' }
    : await registerWebhook(platforms, credentials, webhookUrl);
  const result = await ports.shell.handle(
    tenantDecider,
    envelope(caller, tenantStream(tenantId), { type: 'ConnectTelegramBot', ...bot, token: input.token, at: ports.clock().toISOString() }),
  );
  let previousWebhookRemoved: boolean | null = null;
  if (!replayed && previous && previous.botId !== bot.botId) {
    // The old bot keeps its token with its owner; only its webhook to us goes.
    previousWebhookRemoved = await platforms.telegram
      .deleteWebhook({ tenantId: `${tenantId}:previous`, token: previous.token })
      .then(() => true, () => false);
    platforms.telegram.forget(`${tenantId}:previous`);
  }
  return { ...accepted(result), botId: bot.botId, botUsername: bot.botUsername, webhookUrl, previousWebhookRemoved };
};

/** Removes the webhook (best effort: a revoked token cannot) and records the bot as gone. */
export const disconnectTelegramBot = async (
  ports: CommandPorts,
  platforms: ChannelPlatforms,
  caller: Caller,
): Promise<Accepted & { webhookRemoved: boolean | null }> => {
  const tenantId = caller.tenantId;
  const before = await tenantOf(ports, tenantId);
  const bot = before.status === 'active' || before.status === 'suspended' ? before.telegram : null;
  const result = await ports.shell.handle(tenantDecider, envelope(caller, tenantStream(tenantId), { type: 'DisconnectTelegramBot', at: ports.clock().toISOString() }));
  const webhookRemoved = bot ? await platforms.telegram.deleteWebhook({ tenantId, token: bot.token }).then(() => true, () => false) : null;
  platforms.telegram.forget(tenantId);
  return { ...accepted(result), webhookRemoved };
};

/**
 * Connects a WhatsApp Business number: Graph must know the number under the access token (else the
 * command fails with Graph's reason and nothing is stored). The app secret checks webhook signatures;
 * the verify token answers Meta's handshake and is kept as a hash.
 */
export const connectWhatsAppNumber = async (
  ports: CommandPorts,
  platforms: ChannelPlatforms,
  caller: Caller,
  input: z.infer<typeof connectWhatsAppInput>,
): Promise<Accepted & { phoneNumberId: string; displayPhoneNumber: string; webhookUrl: string }> => {
  await tenantOf(ports, caller.tenantId);
  const number = await platforms.whatsapp.describeNumber({ phoneNumberId: input.phoneNumberId, accessToken: input.accessToken });
  const result = await ports.shell.handle(
    tenantDecider,
    envelope(caller, tenantStream(caller.tenantId), {
      type: 'ConnectWhatsAppNumber',
      phoneNumberId: input.phoneNumberId,
      displayPhoneNumber: number.displayPhoneNumber,
      accessToken: input.accessToken,
      appSecret: input.appSecret,
      verifyTokenHash: sha256(input.verifyToken),
      at: ports.clock().toISOString(),
    }),
  );
  const webhookUrl = whatsappWebhookUrl(platforms.publicUrl, caller.tenantId);
  return { ...accepted(result), phoneNumberId: input.phoneNumberId, displayPhoneNumber: number.displayPhoneNumber, webhookUrl };
};

export const disconnectWhatsAppNumber = async (ports: CommandPorts, caller: Caller): Promise<Accepted> =>
  accepted(
    await ports.shell.handle(tenantDecider, envelope(caller, tenantStream(caller.tenantId), { type: 'DisconnectWhatsAppNumber', at: ports.clock().toISOString() })),
  );
