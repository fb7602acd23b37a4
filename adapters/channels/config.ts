import { z } from 'zod';
import { telegramConfigSchema } from '../telegram/config.ts';
import { whatsappConfigSchema } from '../whatsapp/config.ts';

/** Where Telegram and Meta reach this service; webhooks are registered under it. */
export const channelsConfigSchema = telegramConfigSchema.extend(whatsappConfigSchema.shape).extend({
  PUBLIC_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, 'must be an http(s) URL')
    .transform((url) => url.replace(/\/+$/, ''))
    .optional(),
  /**
   * The bots worker's send journal (docs/channels.md, "Exactly one send"): a file on a disk that
   * outlives the process (a volume), one per worker; `off` for none. Default: DATA_DIR/bots-send.journal.
   */
  BOTS_SEND_JOURNAL: z.string().min(1).optional(),
});
