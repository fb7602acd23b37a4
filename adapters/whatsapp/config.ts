import { z } from 'zod';
import { decimalInt } from '../config/decimal.ts';

/** Environment variables of the WhatsApp adapter; runtime/config.ts can merge `.shape` into its schema. */
export const whatsappConfigSchema = z.object({
  /** The Graph API's base URL; tests point it at a local double. */
  WHATSAPP_GRAPH_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, 'must be an http(s) URL')
    .transform((url) => url.replace(/\/+$/, ''))
    .default('https://graph.facebook.com'),
  /** Graph API version in every path (`/v21.0/<phone number id>/messages`). */
  WHATSAPP_API_VERSION: z.string().regex(/^v\d{1,3}\.\d{1,2}$/, 'must look like v21.0').default('v21.0'),
  /** One Graph call (a try) fails as `whatsapp_timeout` after this long. */
  WHATSAPP_TIMEOUT_MS: decimalInt(100, 120_000).default(10_000),
  /** At least this long between two messages to one user (Meta's pair rate limit: about one per 6 s, else 131056). */
  WHATSAPP_USER_INTERVAL_MS: decimalInt(0, 60_000).default(6_000),
});
export type WhatsAppConfig = z.infer<typeof whatsappConfigSchema>;
