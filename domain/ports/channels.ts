/**
 * What the connect commands need from the messaging platforms. Secrets are arguments at call time and
 * kept by the implementation only as long as the call (or its per-tenant client) needs them.
 */
export interface TelegramPlatform {
  /** The bot a token belongs to; a refused token fails with a permanent `telegram_token_rejected`. */
  getMe(credentials: { tenantId: string; token: string }): Promise<{ botId: number; botUsername: string }>;
  /** Points the bot's updates at `url` with a fresh secret; the secret is returned once. */
  /** Points the bot's updates at `url` with this secret (a fresh one when none is given); answers the secret. */
  setWebhook(credentials: { tenantId: string; token: string }, webhook: { url: string; secretToken?: string }): Promise<{ secretToken: string }>;
  deleteWebhook(credentials: { tenantId: string; token: string }): Promise<void>;
  /** Drops the cached client of a tenant whose bot went. */
  forget(tenantId: string): void;
}

export interface WhatsAppPlatform {
  /** What Graph knows of a number; a refused token fails with a permanent `whatsapp_token_rejected`. */
  describeNumber(credentials: { phoneNumberId: string; accessToken: string }): Promise<{ displayPhoneNumber: string }>;
}

export interface ChannelPlatforms {
  readonly telegram: TelegramPlatform;
  readonly whatsapp: WhatsAppPlatform;
  /** Where the platforms reach this service, e.g. `https://bots.example.com` (no trailing slash). */
  readonly publicUrl: string;
}
