import { createHmac, randomBytes } from 'node:crypto';
import { postRaw } from '../../adapters/channels/doubles/loopback.ts';
import type { Delivery } from '../../adapters/channels/doubles/loopback.ts';

/**
 * Webhook payloads as the WhatsApp Cloud API sends them (reference/whatsapp.md), and their delivery:
 * signed with the app secret over the exact bytes posted. Signing is written out here rather than taken
 * from the adapter, so the adapter's check is tested against an independent signer.
 */
export type WhatsAppNumber = { readonly phoneNumberId: string; readonly displayPhoneNumber: string; readonly wabaId?: string };
export type WhatsAppErrorBody = { code: number; title: string; message?: string; error_data?: { details: string } };

/**
 * A wamid shaped as Meta's are: `wamid.` and the base64 of a short binary record that carries the
 * user's number (wa_id) in clear, then a random id. So a wamid is personal data, as the number is.
 */
export const newWamid = (waId = '15550000000'): string =>
  `wamid.${Buffer.concat([
    Buffer.from([0x18, waId.length]),
    Buffer.from(waId),
    Buffer.from([0x15, 0x02, 0x00, 0x12, 0x18, 0x14]),
    Buffer.from(randomBytes(10).toString('hex').toUpperCase()),
    Buffer.from([0x00]),
  ]).toString('base64')}`;

const envelope = (number: WhatsAppNumber, value: Record<string, unknown>) => ({
  object: 'whatsapp_business_account',
  entry: [
    {
      id: number.wabaId ?? '102290129340398',
      changes: [
        {
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId },
            ...value,
          },
        },
      ],
    },
  ],
});

type Inbound = { from: string; name?: string; id?: string; timestamp?: number; replyTo?: string };

const inbound = (number: WhatsAppNumber, m: Inbound, type: string, content: Record<string, unknown>) =>
  envelope(number, {
    contacts: [{ profile: { name: m.name ?? 'Grace' }, wa_id: m.from }],
    messages: [
      {
        from: m.from,
        id: m.id ?? newWamid(m.from),
        timestamp: String(m.timestamp ?? Math.floor(Date.now() / 1000)),
        type,
        ...content,
        ...(m.replyTo ? { context: { from: number.displayPhoneNumber.replace(/\D/g, ''), id: m.replyTo } } : {}),
      },
    ],
  });

export const whatsappPayloads = {
  text: (number: WhatsAppNumber, m: Inbound & { text: string }) => inbound(number, m, 'text', { text: { body: m.text } }),
  image: (number: WhatsAppNumber, m: Inbound & { caption?: string }) =>
    inbound(number, m, 'image', { image: { id: '1479537139650973', mime_type: 'image/jpeg', sha256: 'H7Q8p7d1', ...(m.caption ? { caption: m.caption } : {}) } }),
  sticker: (number: WhatsAppNumber, m: Inbound) => inbound(number, m, 'sticker', { sticker: { id: '5479537139650973', mime_type: 'image/webp', animated: false } }),
  audio: (number: WhatsAppNumber, m: Inbound) =>
    inbound(number, m, 'audio', { audio: { id: '6479537139650973', mime_type: 'audio/ogg; codecs=opus', voice: true } }),
  reaction: (number: WhatsAppNumber, m: Inbound & { to: string; emoji: string }) =>
    inbound(number, m, 'reaction', { reaction: { message_id: m.to, emoji: m.emoji } }),
  /** A status of one of our sent messages; `failed` carries Graph's errors. */
  status: (
    number: WhatsAppNumber,
    s: { id: string; status: 'sent' | 'delivered' | 'read' | 'failed'; recipientId: string; timestamp?: number; errors?: WhatsAppErrorBody[] },
  ) =>
    envelope(number, {
      statuses: [
        {
          id: s.id,
          status: s.status,
          timestamp: String(s.timestamp ?? Math.floor(Date.now() / 1000)),
          recipient_id: s.recipientId,
          ...(s.status === 'failed'
            ? {}
            : { conversation: { id: 'c0ffee', origin: { type: 'service' } }, pricing: { billable: true, pricing_model: 'CBP', category: 'service' } }),
          ...(s.errors ? { errors: s.errors } : {}),
        },
      ],
    }),
  /** Several messages or statuses in one POST, as Meta batches them: the changes of each payload, in order. */
  batch: (...payloads: ReturnType<typeof envelope>[]) => ({
    object: 'whatsapp_business_account',
    entry: payloads.flatMap((p) => p.entry),
  }),
};

export const signatureOf = (rawBody: string | Buffer, appSecret: string): string =>
  `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;

/**
 * POSTs a payload to a webhook as Meta does: these exact bytes, signed with `appSecret`. `tamper`
 * changes the bytes after signing (a body altered in transit); `signature` replaces the header (null: none).
 */
export const deliverWhatsApp = (
  url: string,
  payload: object,
  appSecret: string,
  options: { tamper?: (raw: string) => string; signature?: string | null } = {},
): Promise<Delivery> => {
  const raw = JSON.stringify(payload);
  const signature = options.signature === undefined ? signatureOf(raw, appSecret) : options.signature;
  const body = options.tamper ? options.tamper(raw) : raw;
  return postRaw(url, body, signature === null ? {} : { 'x-hub-signature-256': signature });
};

/** Meta's GET handshake when the webhook is configured in the app dashboard. */
export const verifyWhatsAppWebhook = async (url: string, query: { mode?: string; verifyToken?: string; challenge?: string }): Promise<Delivery> => {
  const u = new URL(url);
  if (query.mode !== undefined) u.searchParams.set('hub.mode', query.mode);
  if (query.verifyToken !== undefined) u.searchParams.set('hub.verify_token', query.verifyToken);
  if (query.challenge !== undefined) u.searchParams.set('hub.challenge', query.challenge);
  const response = await fetch(u);
  return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') };
};
